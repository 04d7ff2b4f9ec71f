"""Survey actions: schedule a survey when a ticket is solved, send it when it is due, record answers.

    tickets.actions.change_status(solved)
      └─ on commit: schedule_survey(ticket) ── Survey(scheduled, due_at = solved + delay)
           └─ on commit: task surveys.send_survey(id), eta = due_at ── send_survey(id)
    dispatch_due_surveys (beat, every minute): surveys due later than the broker can hold a task
    (ETA_LIMIT) are dispatched when due; surveys still scheduled well past their due time (the
    broker was down, a task was lost) are dispatched again. Sending twice is impossible.

The rules are checked when the survey is scheduled and again when it is sent (`block_reason`):
the store sends surveys and asks at least one kind; never on Amazon or eBay, whose seller rules
forbid it, nor on a channel the store turned off; never for spam or a merged ticket; the ticket is
still solved (or closed); the customer was not surveyed by this store within its period.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from channels_ingest.base import ChannelError, TransientError
from surveys.formulas import scale_for
from surveys.models import Survey, SurveyAnswer, SurveySettings, marketplace_forbids_surveys
from surveys.tokens import make_token
from tickets.models import Customer, Language, Message, Ticket

logger = logging.getLogger(__name__)

SOLVED_STATUSES = (Ticket.Status.SOLVED, Ticket.Status.CLOSED)
MAX_COMMENT_LENGTH = 4000
# A survey still scheduled this long after it was due has lost its task: dispatch it again.
REDISPATCH_AFTER = timedelta(minutes=5)
# A worker holds a task with an eta unacknowledged until it runs; with the Redis broker, one held
# past the visibility timeout is delivered again (to another worker too). Surveys due later than
# this are not given to the broker in advance: the beat sweep dispatches them when they are due.
ETA_LIMIT = timedelta(seconds=int(django_settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600) * 0.8))
REDISPATCH_BATCH_SIZE = 500


class AnswerRefused(ValueError):
    """The answer cannot be taken (a score off the scale, a kind the survey did not ask)."""


def settings_for(store_id: int) -> SurveySettings | None:
    return SurveySettings.objects.filter(store_id=store_id).prefetch_related("questions").first()


def survey_language(ticket: Ticket) -> str:
    for candidate in (ticket.language, ticket.customer.language, ticket.store.default_language):
        code = (candidate or "").split("-")[0].lower()
        if code in Language.values:
            return code
    return Language.EN


def block_reason(
    ticket: Ticket, survey_settings: SurveySettings | None, *, now: datetime, survey: Survey | None = None
) -> str | None:
    """Why no survey may be sent for this ticket now, or None when one may."""
    if survey_settings is None or not survey_settings.enabled:
        return _("The store does not send surveys.")
    if not survey_settings.kinds:
        return _("The store asks no survey question.")
    if marketplace_forbids_surveys(ticket.channel, ticket.marketplace):
        return _("The marketplace's rules forbid surveys on this channel.")
    if ticket.channel in (survey_settings.disabled_channels or []):
        return _("The store turned surveys off on this channel.")
    if ticket.is_spam:
        return _("The ticket is spam.")
    if ticket.merged_into_id is not None:
        return _("The ticket was merged into another one.")
    if ticket.status not in SOLVED_STATUSES:
        return _("The ticket is no longer solved.")
    if survey_settings.period_days:
        recent = Survey.objects.filter(
            customer_id=ticket.customer_id, store_id=ticket.store_id, status=Survey.Status.SENT,
            sent_at__gte=now - timedelta(days=survey_settings.period_days),
        )
        if survey is not None:
            recent = recent.exclude(pk=survey.pk)
        if recent.exists():
            return _("The customer was already surveyed within %(days)s days.") % {"days": survey_settings.period_days}
    return None


def schedule_survey(ticket: Ticket, *, now: datetime | None = None) -> Survey | None:
    """Schedule the survey of a ticket that was just solved; call after the solve is committed.

    Returns the scheduled survey (the one already waiting, if any), or None when the rules say no.
    The send task is dispatched after this commits, with its eta at the survey's due time.
    """
    now = now or timezone.now()
    ticket = Ticket.objects.select_related("store", "customer").get(pk=ticket.pk)
    survey_settings = settings_for(ticket.store_id)
    reason = block_reason(ticket, survey_settings, now=now)
    if reason is not None:
        logger.info("no survey for ticket %s: %s", ticket.pk, reason)
        return None
    waiting = Survey.objects.filter(ticket=ticket, status=Survey.Status.SCHEDULED).first()
    if waiting is not None:
        return waiting
    try:
        with transaction.atomic():
            survey = Survey.objects.create(
                ticket=ticket, store_id=ticket.store_id, customer_id=ticket.customer_id, channel=ticket.channel,
                team_id=ticket.team_id, agent_id=ticket.assignee_id, kinds=survey_settings.kinds,
                language=survey_language(ticket), due_at=now + timedelta(minutes=survey_settings.delay_minutes),
                created_at=now,
            )
            if survey.due_at - now <= ETA_LIMIT:
                transaction.on_commit(lambda: dispatch_survey(survey), robust=True)
    except IntegrityError:
        # Another process scheduled it at the same moment (survey_one_scheduled_per_ticket).
        return Survey.objects.filter(ticket=ticket, status=Survey.Status.SCHEDULED).first()
    return survey


def dispatch_survey(survey: Survey) -> bool:
    """Hand the survey to the workers, to run at its due time. False when the broker is down: the
    survey stays scheduled and `dispatch_due_surveys` sends it later."""
    from surveys.tasks import send_survey_task  # the task module imports this one

    try:
        send_survey_task.apply_async(args=(survey.pk,), eta=survey.due_at)
    except Exception:
        logger.warning("survey %s stays scheduled: the broker is unreachable", survey.pk, exc_info=True)
        return False
    return True


def send_survey(survey_id: int, *, now: datetime | None = None, final_attempt: bool = False) -> str:
    """Send a scheduled survey if it is due and the rules still allow it; returns its status.

    Idempotent: the survey row is locked for the whole send (a second worker skips it) and only a
    scheduled survey is ever sent. The customer's row is locked too, so two surveys for the same
    customer cannot both pass the once-per-period rule. A passing fault (mail server away) leaves
    the survey scheduled and raises TransientError for the task to retry; on the final attempt, or
    on a permanent fault, the survey is failed with the reason.
    """
    from surveys.sending import EMAIL_CHANNELS, send_survey_email, send_survey_message

    now = now or timezone.now()
    transient: ChannelError | None = None
    with transaction.atomic():
        survey = (
            Survey.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("ticket", "ticket__store", "ticket__customer", "ticket__channel_account", "store",
                            "customer")
            .filter(pk=survey_id)
            .first()
        )
        if survey is None:
            return "gone"
        if survey.status != Survey.Status.SCHEDULED:
            return survey.status
        if survey.due_at > now:
            return survey.status  # early delivery: the sweep sends it when it is due
        Customer.objects.select_for_update().filter(pk=survey.customer_id).first()
        survey_settings = settings_for(survey.store_id)
        reason = block_reason(survey.ticket, survey_settings, now=now, survey=survey)
        if reason is not None:
            _finish(survey, Survey.Status.SKIPPED, reason)
            return survey.status
        survey.expires_at = now + timedelta(days=survey_settings.token_lifetime_days)
        token = make_token(survey.pk, survey.expires_at)
        try:
            if survey.channel in EMAIL_CHANNELS:
                send_survey_email(survey, token, survey_settings)
            else:
                send_survey_message(survey, token, survey_settings)
        except ChannelError as exc:
            if exc.permanent or final_attempt:
                _finish(survey, Survey.Status.FAILED, str(exc))
                return survey.status
            survey.skip_reason = str(exc)[:200]
            survey.save(update_fields=["skip_reason"])
            transient = exc
        else:
            survey.sent_at = now
            _finish(survey, Survey.Status.SENT, "")
            return survey.status
    raise TransientError(str(transient)) from transient


def _finish(survey: Survey, status: str, reason: str) -> None:
    survey.status = status
    survey.skip_reason = reason[:200]
    survey.save(update_fields=["status", "skip_reason", "sent_at", "expires_at"])


def dispatch_due_surveys(*, now: datetime | None = None) -> int:
    """For beat: dispatch the surveys that are due and were scheduled too far ahead to be given to
    the broker then, and those still scheduled well past their due time (the broker was down, a
    task was lost). Returns how many were dispatched."""
    now = now or timezone.now()
    held_back = Q(due_at__lte=now, due_at__gt=F("created_at") + ETA_LIMIT)
    lost = Q(due_at__lt=now - REDISPATCH_AFTER)
    due = list(
        Survey.objects.filter(held_back | lost, status=Survey.Status.SCHEDULED)
        .order_by("due_at", "pk")[:REDISPATCH_BATCH_SIZE]
    )
    dispatched = 0
    for survey in due:
        if not dispatch_survey(survey):
            break
        dispatched += 1
    return dispatched


# --- Answers ---------------------------------------------------------------------------------


def record_answer(
    *, survey: Survey, kind: str, score: int, comment: str | None = None, now: datetime | None = None
) -> SurveyAnswer:
    """Record (or change) the customer's answer to one question of a survey.

    The caller has checked the link's token. `comment` None leaves a stored comment as it is.
    Answering again updates the same row; `answered_at` keeps the first answer's time (the day it
    counts on), `changed_at` the last change. A score that turns low (and was not low before) runs
    the store's low-score action. After the commit the metrics rollups hear of the answer and of
    the score it replaced.
    """
    if kind not in (survey.kinds or []):
        raise AnswerRefused(_("This survey does not ask that question."))
    try:
        score = int(score)
    except (TypeError, ValueError):
        raise AnswerRefused(_("The score must be a whole number.")) from None
    if score not in scale_for(kind):
        raise AnswerRefused(_("The score is outside the scale."))
    now = now or timezone.now()
    with transaction.atomic():
        survey = Survey.objects.select_for_update().select_related("ticket").get(pk=survey.pk)
        answer = SurveyAnswer.objects.select_for_update().filter(survey=survey, kind=kind).first()
        previous_score = answer.score if answer is not None else None
        if answer is None:
            answer = SurveyAnswer(
                survey=survey, kind=kind, answered_at=now, language=survey.language, store_id=survey.store_id,
                channel=survey.channel, team_id=survey.team_id, agent_id=survey.agent_id,
                ticket_id=survey.ticket_id, customer_id=survey.customer_id,
            )
        answer.score = score
        answer.changed_at = now
        if comment is not None:
            answer.comment = comment.strip()[:MAX_COMMENT_LENGTH]
        answer.save()
        survey_settings = settings_for(survey.store_id)
        if survey_settings is not None and survey_settings.is_low(kind, score) and (
            previous_score is None or not survey_settings.is_low(kind, previous_score)
        ):
            apply_low_score_action(answer, survey_settings)
        transaction.on_commit(lambda: _tell_metrics(answer, previous_score), robust=True)
    return answer


def _tell_metrics(answer: SurveyAnswer, previous_score: int | None) -> None:
    try:
        from metrics.rollup import on_survey_answer
    except ImportError:
        return  # the metrics app has no rollups in this installation
    on_survey_answer(answer, previous_score)


def low_score_text(answer: SurveyAnswer) -> str:
    """What the team reads about a low answer, in the active language."""
    text = _("The customer answered %(kind)s %(score)s in the satisfaction survey.") % {
        "kind": answer.kind.upper(), "score": answer.score,
    }
    if answer.comment:
        text += " " + _("Their comment: %(comment)s") % {"comment": answer.comment}
    return text


def apply_low_score_action(answer: SurveyAnswer, survey_settings: SurveySettings) -> None:
    """Reopen the ticket, or flag it for the team lead, as the store chose. Either way an internal
    note on the ticket (in the helpdesk's language, not the customer's) says what the customer
    answered, so whoever opens the ticket sees why."""
    from tickets.actions import add_message, change_status

    action = survey_settings.low_score_action
    if action == SurveySettings.LowScoreAction.NONE:
        return
    ticket = Ticket.objects.select_related("team", "team__lead").get(pk=answer.ticket_id)
    with override(django_settings.LANGUAGE_CODE):
        note = low_score_text(answer)
    add_message(ticket=ticket, direction=Message.Direction.NOTE, author_type=Message.AuthorType.SYSTEM, body_text=note,
                metadata={"survey_answer_id": answer.pk})
    if action == SurveySettings.LowScoreAction.REOPEN:
        if ticket.status in SOLVED_STATUSES:
            change_status(ticket=ticket, status=Ticket.Status.OPEN)
        return
    _notify_team_lead(ticket, answer)


def team_leads_for(ticket: Ticket) -> list:
    """The ticket's team lead; without one, the helpdesk's managers."""
    from django.contrib.auth import get_user_model

    from tickets.models import AgentProfile

    if ticket.team is not None and ticket.team.lead is not None and ticket.team.lead.is_active:
        return [ticket.team.lead]
    return list(
        get_user_model().objects.filter(is_active=True, agent_profile__role=AgentProfile.Role.MANAGER).order_by("pk")
    )


def _notify_team_lead(ticket: Ticket, answer: SurveyAnswer) -> None:
    try:
        from tickets.notify import notify
    except ImportError:
        return  # no in-app notifications in this installation: the internal note remains
    # A function of the recipient: notify() calls it in each lead's own language.
    notify(team_leads_for(ticket), ticket=ticket, kind="survey_low_score", text=lambda user: low_score_text(answer))
