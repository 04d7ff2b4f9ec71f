"""Customer surveys: per-store settings, the survey sent for a solved ticket, and its answers.

State changes go through `surveys.actions`; the formulas live in `surveys.formulas`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Channel, Customer, Language, Store, Team, Ticket

# Marketplaces whose seller rules forbid soliciting feedback or reviews outside their own system:
# no survey is ever sent there and no review link is ever shown for their tickets.
FORBIDDEN_CHANNELS = frozenset({Channel.AMAZON, Channel.EBAY})


def marketplace_forbids_surveys(channel: str, marketplace: str = "") -> bool:
    """True for Amazon and eBay conversations: by channel, or by the marketplace code a ticket
    carries ("amazon.es", "ebay.de") when one of its messages came from there."""
    family = (marketplace or "").split(".")[0].lower()
    return channel in FORBIDDEN_CHANNELS or family in FORBIDDEN_CHANNELS


class SurveyKind(models.TextChoices):
    CSAT = "csat", _("CSAT (satisfaction, 1–5)")
    NPS = "nps", _("NPS (recommendation, 0–10)")
    CES = "ces", _("CES (effort, 1–7)")


# The order in which a survey asks its questions; the first kind a store asks is the one whose
# scores go into the email as one-click links.
KIND_ORDER = (SurveyKind.CSAT, SurveyKind.NPS, SurveyKind.CES)


def default_disabled_channels() -> list[str]:
    """Other marketplaces often forbid soliciting feedback off their platform: off until a store
    checks its marketplace's rules and turns it on."""
    return [str(Channel.MARKETPLACE)]


class SurveySettings(models.Model):
    """How one store surveys its customers. A store without settings sends no surveys."""

    class LowScoreAction(models.TextChoices):
        NONE = "none", _("Do nothing")
        REOPEN = "reopen", _("Reopen the ticket")
        FLAG = "flag", _("Flag the ticket for the team lead")

    store = models.OneToOneField(
        Store, on_delete=models.CASCADE, related_name="survey_settings", verbose_name=_("store")
    )
    enabled = models.BooleanField(_("send surveys"), default=True)
    ask_csat = models.BooleanField(_("ask CSAT"), default=True)
    ask_nps = models.BooleanField(_("ask NPS"), default=False)
    ask_ces = models.BooleanField(_("ask CES"), default=False)
    delay_minutes = models.PositiveIntegerField(
        _("delay after solve (minutes)"), default=60,
        help_text=_("How long after a ticket is solved the survey is sent."),
    )
    disabled_channels = models.JSONField(
        _("channels turned off"), default=default_disabled_channels, blank=True,
        help_text=_("No survey is sent on these channels. Amazon and eBay are always off."),
    )
    period_days = models.PositiveIntegerField(
        _("one survey per customer every (days)"), default=30,
        help_text=_("A customer surveyed by this store within this many days is not surveyed again. 0 = no limit."),
    )
    token_lifetime_days = models.PositiveIntegerField(
        _("answer link valid for (days)"), default=30,
    )
    low_score_action = models.CharField(
        _("on a low score"), max_length=10, choices=LowScoreAction.choices, default=LowScoreAction.FLAG
    )
    csat_low_max = models.PositiveSmallIntegerField(
        _("low CSAT: at most"), default=2, help_text=_("A CSAT answer at or below this is low (1–5).")
    )
    nps_low_max = models.PositiveSmallIntegerField(
        _("low NPS: at most"), default=6, help_text=_("An NPS answer at or below this is low; 0–6 are detractors.")
    )
    ces_low_min = models.PositiveSmallIntegerField(
        _("poor CES: at least"), default=6,
        help_text=_("A CES answer at or above this is poor (1 extremely easy … 7 extremely difficult)."),
    )
    review_url = models.URLField(
        _("review invitation link"), max_length=500, blank=True,
        help_text=_("Shown after a high score. Never shown for Amazon or eBay tickets."),
    )
    review_csat_min = models.PositiveSmallIntegerField(_("invite a review from CSAT"), default=5)
    review_nps_min = models.PositiveSmallIntegerField(_("invite a review from NPS"), default=9)

    class Meta:
        verbose_name = _("survey settings")
        verbose_name_plural = _("survey settings")

    def __str__(self) -> str:
        return str(self.store)

    @property
    def kinds(self) -> list[str]:
        """The kinds this store asks, in the order they are asked."""
        asked = {SurveyKind.CSAT: self.ask_csat, SurveyKind.NPS: self.ask_nps, SurveyKind.CES: self.ask_ces}
        return [str(kind) for kind in KIND_ORDER if asked[kind]]

    def is_low(self, kind: str, score: int) -> bool:
        if kind == SurveyKind.CSAT:
            return score <= self.csat_low_max
        if kind == SurveyKind.NPS:
            return score <= self.nps_low_max
        return score >= self.ces_low_min

    def is_high(self, kind: str, score: int) -> bool:
        """High enough to invite a review (CES is about effort, not loyalty: never)."""
        if kind == SurveyKind.CSAT:
            return score >= self.review_csat_min
        if kind == SurveyKind.NPS:
            return score >= self.review_nps_min
        return False


class SurveyQuestion(models.Model):
    """A store's own wording of one question in one language, instead of the standard text."""

    settings = models.ForeignKey(
        SurveySettings, on_delete=models.CASCADE, related_name="questions", verbose_name=_("settings")
    )
    kind = models.CharField(_("kind"), max_length=4, choices=SurveyKind.choices)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    text = models.CharField(_("question"), max_length=300)

    class Meta:
        verbose_name = _("custom question")
        verbose_name_plural = _("custom questions")
        constraints = [
            models.UniqueConstraint(fields=["settings", "kind", "language"], name="survey_question_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.language}: {self.text}"


class Survey(models.Model):
    """One survey for one solved ticket: scheduled, then sent (or skipped, with the reason)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="surveys", verbose_name=_("ticket"))
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="surveys", verbose_name=_("store"))
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="surveys", verbose_name=_("customer")
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    # Who solved it, as it was when the ticket was solved: the answers are credited to them.
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("team")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("agent"),
    )
    kinds = models.JSONField(_("kinds asked"), default=list)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.EN)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    skip_reason = models.CharField(_("reason"), max_length=200, blank=True)
    due_at = models.DateTimeField(_("due"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    expires_at = models.DateTimeField(_("link expires"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        constraints = [
            # Solving a ticket twice in a row schedules one survey, however the calls interleave.
            models.UniqueConstraint(
                fields=["ticket"], condition=models.Q(status="scheduled"), name="survey_one_scheduled_per_ticket"
            ),
        ]
        indexes = [
            # "Was this customer surveyed by this store in the last N days?"
            models.Index(fields=["customer", "store", "sent_at"], name="survey_customer_sent"),
            models.Index(fields=["ticket", "status"], name="survey_ticket_status"),
        ]

    def __str__(self) -> str:
        return f"survey {self.pk} for ticket {self.ticket_id}"


class SurveyAnswer(models.Model):
    """One answer to one question of a survey. Answering again updates the row.

    Store, channel, team, agent and customer are copied from the ticket at answer time on purpose:
    the dashboards group by them without joining tickets, and a later reassignment does not move an
    answer to another agent. ``agent`` is the ticket's assignee when it was solved.
    """

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="answers", verbose_name=_("survey"))
    kind = models.CharField(_("kind"), max_length=4, choices=SurveyKind.choices)
    score = models.SmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    answered_at = models.DateTimeField(_("answered"), default=timezone.now)
    changed_at = models.DateTimeField(_("last changed"), default=timezone.now)
    language = models.CharField(_("language"), max_length=8, blank=True)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="survey_answers", verbose_name=_("store"))
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="survey_answers", verbose_name=_("team")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="survey_answers", verbose_name=_("agent"),
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="survey_answers", verbose_name=_("ticket")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="survey_answers", verbose_name=_("customer")
    )

    class Meta:
        ordering = ["-answered_at", "-pk"]
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
        constraints = [
            models.UniqueConstraint(fields=["survey", "kind"], name="survey_answer_unique_kind"),
        ]
        indexes = [
            models.Index(fields=["answered_at"], name="survey_answer_at"),
            models.Index(fields=["store", "answered_at"], name="survey_answer_store_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.score} (ticket {self.ticket_id})"
