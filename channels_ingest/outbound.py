"""The outbound road: a reply saved as queued is sent by a worker through its provider's adapter,
and its delivery state (queued, sent, failed with a reason) shows in the ticket.

    tickets.actions.add_message(outbound, queued)
      └─ on commit: dispatch_queued_message(id) ── broker ──> task outbound.send_message
                                                             └─ send_message(id): adapter.send_reply

If the broker is down at commit time the reply simply stays queued: `requeue_stuck_outbound`
(on the beat schedule) dispatches replies left queued for too long. Plain functions, no requests:
tasks, commands and tests call them directly.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_ingest.accounts.health import is_credentials_refusal, mark_credentials_expired
from channels_ingest.base import ChannelError, SendResult, TransientError
from channels_ingest.registry import UnknownProvider, get_adapter
from tickets.events import publish_on_commit, ticket_changed_payload, ticket_group
from tickets.models import ChannelAccount, Message

logger = logging.getLogger(__name__)

# Must match the task's retry_backoff_max: a reply whose last attempt is younger than this may
# still have a retry waiting in the broker, and the sweeper leaves it alone.
RETRY_BACKOFF_MAX_SECONDS = 600
REQUEUE_BATCH_SIZE = 500


def send_message(message_id: int, *, final_attempt: bool = False) -> None:
    """Send one queued outbound message through its account's adapter.

    Idempotent: the broker can deliver the task twice, and the sweeper can dispatch a reply whose
    task is still waiting. The message row stays locked (SELECT ... FOR UPDATE SKIP LOCKED) for the
    whole send, so a second worker skips it, and once the first commits the state is no longer
    queued and every later delivery returns at once.

    - success: sent, with the provider's message id and what it answered in `metadata`;
    - ChannelError(permanent=True): failed, with the human-readable reason;
    - ChannelError(permanent=False): stays queued, the attempt and its error are recorded, and
      TransientError is raised so the task retries with backoff. With `final_attempt` (the task's
      last retry) it is failed with the reason instead.
    """
    transient: ChannelError | None = None
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("ticket", "channel_account", "channel_account__store")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            return  # deleted, or another worker is sending it right now
        if message.direction != Message.Direction.OUTBOUND or message.delivery_state != Message.DeliveryState.QUEUED:
            return  # already handled (or never ours to send): never send twice
        account = message.channel_account
        if account is None:
            _mark_failed(message, _("This reply has no channel account to be sent from."))
            return
        if account.status == account.Status.PAUSED:
            _hold(message)  # stays queued; resuming the account sends it
            return
        try:
            adapter = get_adapter(account.provider)
        except UnknownProvider:
            _mark_failed(message, _("No channel adapter is installed for the provider %(provider)s.")
                         % {"provider": account.provider})
            return
        try:
            result = adapter.send_reply(message)
        except ChannelError as exc:
            reason = str(exc) or _("The provider refused the reply without giving a reason.")
            if is_credentials_refusal(exc):
                # Every reply on this account would fail the same way: show it on the Channels page.
                mark_credentials_expired(account, f"sending a reply: {reason}")
            if exc.permanent or final_attempt:
                logger.warning("outbound message %s failed: %s", message.pk, reason)
                _mark_failed(message, reason)
                return
            _record_transient_failure(message, reason)
            transient = exc
        except Exception:
            # An adapter bug is as final as a refusal for this message: show it rather than leave
            # it queued for the sweeper to try again forever.
            logger.exception("outbound message %s: the %s adapter raised", message.pk, account.provider)
            _mark_failed(message, _("Sending failed because of an internal error; the details are in the server log."))
            return
        else:
            _mark_sent(message, result)
            return
    # Raised after the commit, so the recorded attempt survives the retry.
    raise TransientError(str(transient)) from transient


def _save_delivery(message: Message, fields: list[str]) -> None:
    message.delivery_updated_at = timezone.now()
    message.save(update_fields=[*fields, "delivery_updated_at"])
    # The same announcement as a provider's delivery receipt: open ticket pages update the badge.
    publish_on_commit(
        [ticket_group(message.ticket_id)],
        {"type": "message.delivery", "ticket_id": message.ticket_id, "message_id": message.pk,
         "state": message.delivery_state},
    )
    publish_on_commit([ticket_group(message.ticket_id)], ticket_changed_payload(message.ticket))


def _mark_sent(message: Message, result: SendResult) -> None:
    message.delivery_state = Message.DeliveryState.SENT
    message.failure_reason = ""
    if result.external_id:
        message.external_id = result.external_id[:255]
    metadata = dict(message.metadata or {})
    metadata.pop("last_send_error", None)
    metadata.update(result.metadata)
    message.metadata = metadata
    _save_delivery(message, ["delivery_state", "failure_reason", "external_id", "metadata"])


# Why a queued reply waits (Message.metadata["held"]); the ticket page shows it, translated.
HELD_ACCOUNT_PAUSED = "account_paused"


def _hold(message: Message) -> None:
    if (message.metadata or {}).get("held") == HELD_ACCOUNT_PAUSED:
        return
    message.metadata = {**(message.metadata or {}), "held": HELD_ACCOUNT_PAUSED}
    _save_delivery(message, ["metadata"])


def _mark_failed(message: Message, reason: str) -> None:
    message.delivery_state = Message.DeliveryState.FAILED
    message.failure_reason = reason
    _save_delivery(message, ["delivery_state", "failure_reason"])


def _record_transient_failure(message: Message, reason: str) -> None:
    metadata = dict(message.metadata or {})
    metadata["send_attempts"] = int(metadata.get("send_attempts") or 0) + 1
    metadata["last_send_error"] = reason
    message.metadata = metadata
    _save_delivery(message, ["metadata"])


def dispatch_queued_message(message: Message | int) -> bool:
    """Hand a queued reply to the outbound workers. Call it after the reply is committed.

    Returns False, logging why, when the broker cannot be reached: the reply then stays queued and
    `requeue_stuck_outbound` dispatches it later; an agent's reply is never lost to a broker outage.
    """
    message_id = message if isinstance(message, int) else message.pk
    # Imported here: the task module imports this one.
    from channels_ingest.outbound_tasks import send_message_task

    try:
        send_message_task.apply_async(args=(message_id,))
    except Exception:
        logger.warning("outbound message %s stays queued: the broker is unreachable", message_id, exc_info=True)
        return False
    return True


def requeue_stuck_outbound(*, older_than_seconds: int | None = None, now=None) -> int:
    """Dispatch replies left queued: never tried for longer than the threshold (the broker was down
    when they were saved, a worker lost the task), or last tried so long ago that no retry can be
    pending any more. Returns how many were dispatched.

    The threshold is HELPDESK_OUTBOUND_REQUEUE_AFTER_SECONDS; dispatching one twice is harmless.
    """
    threshold = timedelta(
        seconds=settings.HELPDESK_OUTBOUND_REQUEUE_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    )
    now = now or timezone.now()
    never_tried = Q(delivery_updated_at__isnull=True, created_at__lt=now - threshold)
    retries_lost = Q(
        delivery_updated_at__lt=now - threshold - timedelta(seconds=RETRY_BACKOFF_MAX_SECONDS),
    )
    stuck = list(
        Message.objects.filter(
            never_tried | retries_lost,
            direction=Message.Direction.OUTBOUND,
            delivery_state=Message.DeliveryState.QUEUED,
            channel_account__isnull=False,
        )
        # A paused account's replies wait for its resume, which sends them.
        .exclude(channel_account__status=ChannelAccount.Status.PAUSED)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:REQUEUE_BATCH_SIZE]
    )
    dispatched = 0
    for message_id in stuck:
        if not dispatch_queued_message(message_id):
            break  # the broker is still down: the next sweep tries again
        dispatched += 1
    if stuck:
        logger.info("re-queued %s of %s stuck outbound messages", dispatched, len(stuck))
    return dispatched
