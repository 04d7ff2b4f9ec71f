"""The ingest road: record a raw event, process it into tickets, re-queue what was left behind.

1. `record_event` stores the raw delivery once (unique on provider, account, event id) and, after
   the commit, asks a worker to process it (unless a task already on its way will: see
   `enqueue_processing`). Workers process waiting events in batches (`process_events`,
   `drain_waiting_events`). If the broker is down the event simply waits: the
   sweeper (`requeue_pending_events`, on beat) sends it again later. Nothing is lost either way.
2. `process_event` runs in a worker: the adapter parses the raw event into normalised messages,
   `tickets.ingest.ingest_message` threads each one. A parse failure marks the event failed with
   its error; a transient fault is raised for the task to retry.
"""

from __future__ import annotations

import logging
import time
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from channels_ingest.base import NormalizedMessage, ParseError, TransientError
from channels_ingest.models import InboundEvent
from channels_ingest.registry import UnknownProvider, get_adapter
from helpdesk.bulk import update_rows
from tickets.models import ChannelAccount

logger = logging.getLogger(__name__)


def record_event(
    *, provider: str, account, event_id: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[InboundEvent, bool]:
    """Store one raw delivery; returns (event, created). A replay returns the stored event and
    schedules nothing new."""
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                provider=provider, account=account, event_id=event_id[:255], body=body, headers=headers or {}
            )
            transaction.on_commit(lambda: enqueue_processing(event.pk, coalesce=True))
    except IntegrityError:
        existing = InboundEvent.objects.get(provider=provider, account=account, event_id=event_id[:255])
        return existing, False
    return event, True


def enqueue_processing(event_pk: int, *, coalesce: bool = False) -> bool:
    """Ask a worker to process the event. Never raises: a broker outage leaves the event pending
    for the sweeper, and the webhook has already been answered.

    `coalesce` (new webhooks): no task is sent while one sent earlier has not yet started
    draining the waiting events (see `drain_waiting_events`); that task takes this event too.
    Under a burst, a handful of tasks then carry thousands of events."""
    from channels_ingest.tasks import process_event_task

    if coalesce and settings.HELPDESK_INGEST_BATCH_SIZE > 1 and not _claim_drain(process_event_task):
        return True
    try:
        process_event_task.apply_async(args=[event_pk], retry=False)
    except Exception as exc:  # kombu raises several types for an unreachable broker
        logger.warning("could not queue inbound event %s (will be re-queued): %s", event_pk, exc)
        return False
    return True


# What processing answers for an event of a paused account: it stays waiting, untouched.
HELD = "held"
# Accounts whose waiting events are processed (a paused one's wait for its resume).
PROCESSED_STATUSES = (ChannelAccount.Status.ACTIVE, ChannelAccount.Status.ERROR)


def process_event(event_pk: int) -> str:
    """Parse and thread one stored event; returns its final state. Idempotent: an event already
    processed, ignored or failed is left alone (re-processing is an explicit admin action, see
    `reprocess_events`). Raises TransientError, after recording the attempt, for the task to retry.
    """
    transient: TransientError | None = None
    with transaction.atomic():
        # The row lock makes two deliveries of the same task run one after the other; the second
        # then finds the event done.
        event = (
            InboundEvent.objects.select_for_update(of=("self",))
            .select_related("account__store")
            .filter(pk=event_pk)
            .first()
        )
        if event is None or event.state != InboundEvent.State.PENDING:
            return event.state if event else "missing"
        if event.account.status == ChannelAccount.Status.PAUSED:
            return HELD  # stays waiting: resuming the account queues it again
        if event.account.status == ChannelAccount.Status.REMOVED:
            # Stored in the instant before the removal was seen: kept, never acted on.
            event.state = InboundEvent.State.IGNORED
            event.error = "the channel account was removed before this event was processed"
            event.save(update_fields=["state", "error"])
            return event.state
        event.attempts += 1
        event.processed_at = timezone.now()
        try:
            # The work runs in a savepoint: whatever it wrote is undone if it fails part-way, while
            # the event row keeps the outcome.
            with transaction.atomic():
                messages = get_adapter(event.provider).parse(event)
                results = _thread_messages(event, messages)
        except TransientError as exc:
            transient = exc
            event.error = f"{type(exc).__name__}: {exc}"
        except (OperationalError, InterfaceError) as exc:
            # The database hiccuped (restart, failover, dropped connection): try again later
            # rather than marking a good event failed.
            raise TransientError(f"database unavailable: {exc}") from exc
        except (ParseError, UnknownProvider) as exc:
            event.state = InboundEvent.State.FAILED
            event.error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            # Anything unexpected is a bug in an adapter or in threading: keep the event with the
            # traceback for the admins, never drop it.
            logger.exception("inbound event %s failed", event.pk)
            event.state = InboundEvent.State.FAILED
            event.error = "".join(traceback.format_exception(exc))[-8000:]
        else:
            # Processed when a message was stored (or had been: a replay); ignored when everything
            # was skipped (an auto-reply with no ticket, our own mail) or there was nothing at all.
            stored = any(key in result for result in results for key in STORED_KEYS)
            event.state = InboundEvent.State.PROCESSED if stored else InboundEvent.State.IGNORED
            event.error = ""
            event.result = _result_summary(results)
            _note_account_activity(event.account_id, event.received_at)
        event.save(update_fields=["state", "attempts", "error", "processed_at", "result"])
    if transient is not None:
        raise transient
    return event.state


# --- Coalescing: one task drains what is waiting -----------------------------------------------
#
# A webhook sends a task only when it claims the "drain due" key (SET NX, with an expiry in case
# the task is lost); the task releases the key *before* each look for waiting events. An event
# committed before that look is found by it; one committed after finds the key free and sends a
# task of its own. So no event waits for the sweeper unless a task is lost.

DRAIN_KEY_SECONDS = 10
_redis_clients: dict[str, object] = {}


def _drain_key(task) -> str:
    queue = task.app.amqp.router.route({}, task.name)["queue"].name
    return f"helpdesk:ingest-drain-due:{settings.DATABASES['default']['NAME']}:{queue}"


def _redis():
    import redis

    client = _redis_clients.get(settings.REDIS_URL)
    if client is None:
        client = _redis_clients[settings.REDIS_URL] = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
    return client


def _claim_drain(task) -> bool:
    """True when this caller should send a task (nobody has since the last drain began)."""
    try:
        return bool(_redis().set(_drain_key(task), "1", nx=True, ex=DRAIN_KEY_SECONDS))
    except Exception:  # Redis unreachable: try to send anyway; failing that, the sweeper
        return True


def _release_drain(task) -> None:
    try:
        _redis().delete(_drain_key(task))
    except Exception:
        pass


def drain_waiting_events(*, batch_size: int | None = None, seconds: float = 20.0) -> int:
    """Process waiting events (first attempts) in batches until none are left; returns how many
    were processed. After `seconds` it hands over to a new task, so one task never runs for long."""
    from channels_ingest.tasks import process_event_task

    batch_size = settings.HELPDESK_INGEST_BATCH_SIZE if batch_size is None else batch_size
    deadline = time.monotonic() + seconds
    total = 0
    while True:
        _release_drain(process_event_task)
        taken, alone = _process_waiting_batch(batch_size)
        _process_alone(alone)
        total += taken
        if taken == 0:
            return total
        if time.monotonic() > deadline:
            if _claim_drain(process_event_task):
                process_event_task.apply_async(args=[0], retry=False)
            return total


def _process_waiting_batch(batch_size: int) -> tuple[int, list[int]]:
    with transaction.atomic():
        batch = list(_waiting(batch_size))
        if not batch:
            return 0, []
        return len(batch), _process_batch(batch)


def _waiting(limit: int, exclude: int | None = None):
    waiting = (
        InboundEvent.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("account__store")
        .filter(state=InboundEvent.State.PENDING, attempts=0, account__status__in=PROCESSED_STATUSES)
        .order_by("received_at")
    )
    if exclude is not None:
        waiting = waiting.exclude(pk=exclude)
    return waiting[:limit]


def _process_alone(pks: list[int], first_pk: int | None = None) -> str | None:
    state = None
    for pk in sorted(pks):
        if pk == first_pk:
            state = process_event(pk)  # a transient fault raises here, for this task to retry
            continue
        try:
            process_event(pk)
        except TransientError:
            pass  # recorded on the event (an attempt made): its own task or the sweeper retries it
    return state


def process_events(first_pk: int, *, batch_size: int | None = None) -> str:
    """Process event `first_pk` and, with it, up to `batch_size - 1` other events waiting for their
    first attempt (oldest first): parsed one by one, threaded together per account by
    `tickets.ingest_bulk.ingest_many`, committed at once. Returns `first_pk`'s final state.

    The other events' own tasks then find them done, at the cost of one query each. Events another
    worker holds are skipped, not waited for. An event whose parsing raises anything but a parse
    error, an event carrying more than messages (orders, customer records), and a batch whose
    threading fails are processed one by one by `process_event` after the batch commits (with
    its tracebacks and transient faults recorded), so a batch never does worse than one event
    at a time.
    """
    batch_size = settings.HELPDESK_INGEST_BATCH_SIZE if batch_size is None else batch_size
    if batch_size <= 1:
        return process_event(first_pk)
    state = InboundEvent.objects.filter(pk=first_pk).values_list("state", flat=True).first()
    if state != InboundEvent.State.PENDING:
        # Taken with an earlier batch, most of the time: answered without locking (a lock is a
        # write, and would cost a WAL flush at commit).
        return state or "missing"
    alone: list[int] = []
    with transaction.atomic():
        first = (
            InboundEvent.objects.select_for_update(of=("self",)).select_related("account__store")
            .filter(pk=first_pk).first()
        )
        if first is None or first.state != InboundEvent.State.PENDING:
            return first.state if first else "missing"
        if first.account.status == ChannelAccount.Status.PAUSED:
            return HELD
        if first.attempts:
            alone.append(first.pk)  # a retry: on its own, with its back-off
        else:
            alone.extend(_process_batch([first, *_waiting(batch_size - 1, exclude=first_pk)]))
    state = _process_alone(alone, first_pk)
    return state if state is not None else first.state


def _process_batch(batch: list[InboundEvent]) -> list[int]:
    """Parse and thread a batch of locked events inside the caller's transaction; returns the
    events to process one by one after the commit."""
    alone: list[int] = []
    parsed: list[tuple[InboundEvent, list]] = []
    done: list[InboundEvent] = []
    for event in batch:
        try:
            items = list(get_adapter(event.provider).parse(event))
        except (ParseError, UnknownProvider) as exc:
            event.state = InboundEvent.State.FAILED
            event.error = f"{type(exc).__name__}: {exc}"
            done.append(event)
        except Exception:
            alone.append(event.pk)
        else:
            if all(isinstance(item, NormalizedMessage) for item in items):
                parsed.append((event, items))
            else:
                alone.append(event.pk)  # orders, customer records...: their own actions, one by one
    if parsed:
        try:
            with transaction.atomic():
                _thread_batch(parsed)
        except (OperationalError, InterfaceError) as exc:
            raise TransientError(f"database unavailable: {exc}") from exc
        except Exception:
            logger.warning("batch of %d inbound events failed; processing them one by one", len(parsed),
                           exc_info=True)
            alone.extend(event.pk for event, _ in parsed)
        else:
            done.extend(event for event, _ in parsed)
    now = timezone.now()
    for event in done:
        event.attempts += 1
        event.processed_at = now
        if event.state != InboundEvent.State.FAILED:
            _note_account_activity(event.account_id, event.received_at)
    update_rows(done, ["state", "attempts", "error", "processed_at", "result"])
    return alone


def _thread_batch(parsed: list[tuple[InboundEvent, list]]) -> None:
    """Thread the parsed events' messages, per account in arrival order, and set each event's
    outcome as `process_event` would."""
    from tickets.ingest_bulk import Inbound, ingest_many

    by_account: dict[int, list[tuple[InboundEvent, Inbound]]] = {}
    for event, messages in parsed:
        event.result = {"messages": []}
        for normalized in messages:
            by_account.setdefault(event.account_id, []).append((event, Inbound(normalized=normalized, event=event)))
    for pairs in by_account.values():
        outcomes = ingest_many(account=pairs[0][0].account, items=[item for _, item in pairs])
        for (event, _), outcome in zip(pairs, outcomes, strict=True):
            if outcome is not None:
                event.result["messages"].append(outcome.as_dict())
    for event, _ in parsed:
        results = event.result["messages"]
        stored = any("message_id" in result for result in results)
        event.state = InboundEvent.State.PROCESSED if stored else InboundEvent.State.IGNORED
        event.error = ""
        event.result = {"messages": results} if results else {"reason": "nothing to thread"}


# The account's health shows its last event to the minute: each process writes it at most once a
# minute per account instead of on every event.
_last_activity_written: dict[int, float] = {}


def _note_account_activity(account_id: int, received_at) -> None:
    now = time.monotonic()
    if now - _last_activity_written.get(account_id, -3600.0) < 60:
        return
    _last_activity_written[account_id] = now
    ChannelAccount.objects.filter(pk=account_id).filter(
        Q(last_event_at__isnull=True) | Q(last_event_at__lt=received_at)
    ).update(last_event_at=received_at)


# What an item's outcome names when something was stored (or had been: a replay).
STORED_KEYS = ("message_id", "order_id", "customer_id", "privacy_request_id")


def _result_summary(results: list[dict]) -> dict:
    if not results:
        return {"reason": "nothing to thread"}
    messages = [result for result in results if "kind" not in result]
    records = [result for result in results if "kind" in result]
    summary: dict = {"messages": messages} if messages else {}
    if records:
        summary["records"] = records
    skipped = [result["reason"] for result in records if result["kind"] == "skipped"]
    if skipped and not messages and len(skipped) == len(records):
        summary["reason"] = "; ".join(skipped)
    return summary


def _thread_messages(event: InboundEvent, messages) -> list[dict]:
    """Hand each normalised item to the business action that stores it: messages are threaded,
    orders upserted, customer records and privacy requests acted on."""
    from channels_ingest.base import CustomerProfile, NormalizedOrder, PrivacyRequest, Skipped
    from tickets.ingest import ingest_message

    results = []
    for normalized in messages:
        if isinstance(normalized, NormalizedOrder):
            from tickets.orders import upsert_order

            outcome = upsert_order(account=event.account, normalized=normalized, event=event)
            results.append({"kind": "order", **outcome.as_dict()})
            if outcome.created and not normalized.is_complete:
                # A refund or shipment came before its order: fetch the order from the shop.
                from channels_ingest.shop_tasks import schedule_backfill

                schedule_backfill(event.account, normalized.external_id)
        elif isinstance(normalized, CustomerProfile):
            from tickets.orders import record_customer

            customer = record_customer(account=event.account, handle=normalized.customer)
            if customer is not None:
                results.append({"kind": "customer", "customer_id": customer.pk})
            else:
                results.append({"kind": "skipped", "reason": "customer record without email or id"})
        elif isinstance(normalized, PrivacyRequest):
            from tickets.privacy import handle_privacy_request

            request = handle_privacy_request(account=event.account, request=normalized)
            results.append({"kind": "privacy", "privacy_request_id": request.pk})
        elif isinstance(normalized, Skipped):
            results.append({"kind": "skipped", "reason": normalized.reason})
        elif isinstance(normalized, MESSAGING_SIGNALS):
            # Receipts, reactions, unsent messages, echoes and opt-outs of messaging channels:
            # recorded on the messages they concern, never a new customer message.
            results.append(_record_messaging_signal(event.account, normalized))
        else:
            outcome = ingest_message(account=event.account, normalized=normalized, event=event)
            if outcome is not None:
                results.append(outcome.as_dict())
    return results


def _messaging_signal_types() -> tuple[type, ...]:
    from channels_ingest.base import (
        DeliveryStatus,
        MessageReaction,
        MessageUnsent,
        OptOut,
        OutboundEcho,
    )

    return (DeliveryStatus, MessageReaction, MessageUnsent, OptOut, OutboundEcho)


MESSAGING_SIGNALS = _messaging_signal_types()


def _record_messaging_signal(account, item) -> dict:
    from channels_ingest.base import DeliveryStatus, MessageReaction, MessageUnsent, OptOut
    from tickets import delivery

    if isinstance(item, DeliveryStatus):
        return delivery.record_delivery_status(account=account, status=item)
    if isinstance(item, MessageReaction):
        return delivery.record_reaction(account=account, reaction=item)
    if isinstance(item, MessageUnsent):
        return delivery.record_unsent(account=account, unsent=item)
    if isinstance(item, OptOut):
        return delivery.record_opt_out(account=account, opt_out=item)
    return delivery.record_echo(account=account, echo=item)


def requeue_pending_events(*, older_than: timedelta | None = None, limit: int = 1000) -> int:
    """Send events still waiting after `older_than` to the workers again (the broker was down, or
    a worker died before finishing). Processing is idempotent, so a duplicate costs nothing."""
    if older_than is None:
        older_than = timedelta(seconds=settings.HELPDESK_INGEST_REQUEUE_AFTER_SECONDS)
    cutoff = timezone.now() - older_than
    pending = list(
        InboundEvent.objects.filter(state=InboundEvent.State.PENDING, received_at__lt=cutoff,
                                    account__status__in=PROCESSED_STATUSES)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    queued = 0
    for pk in pending:
        if not enqueue_processing(pk):
            break  # the broker is still down; the next sweep tries again
        queued += 1
    return queued


def reprocess_events(event_pks: list[int]) -> int:
    """Put events back to waiting and queue them: the admin's "re-process" after a fix.
    Messages already threaded are recognised by their ids, so nothing is doubled."""
    count = InboundEvent.objects.filter(pk__in=event_pks).update(state=InboundEvent.State.PENDING, error="")
    for pk in event_pks:
        transaction.on_commit(lambda pk=pk: enqueue_processing(pk))
    return count
