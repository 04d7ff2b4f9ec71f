"""Threading many inbound messages of one account at once, with set-based queries.

`ingest_message` (tickets/ingest.py) threads one message with a dozen ORM statements; under a burst
that per-message cost is what limits the workers. `ingest_many` threads a batch of messages with
a fixed number of statements whatever the batch size, for the common case: a known or new
customer writing on a provider thread (or without one), plain text or HTML, no attachments.

The rules are the same as `ingest_message`'s, and so are the records it writes: the same
customers, identities, tickets, messages, timeline events and live events. Whatever falls outside
the common case goes through `ingest_message` itself, in order, inside the same transaction: a
customer known by email on another channel, email references, a ticket number in the subject, an
order reference, attachments, automatic replies, our own mail, a merged customer or ticket, a
solved ticket past the reopen window. All the messages of one customer take the same road, so a
customer's messages are threaded in the order they arrived.

Concurrency: the per-customer advisory locks that `ingest_message` takes one at a time are taken
here for the whole batch up front, in one sorted order, so two workers threading overlapping
batches wait for each other instead of deadlocking, and two messages of a new conversation never
open two tickets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from channels_ingest.base import CustomerHandle, NormalizedMessage
from helpdesk.bulk import update_rows
from tickets import actions
from tickets.events import live_events_suppressed
from tickets.html import sanitize_html
from tickets.ingest import (
    TICKET_REFERENCE,
    IngestOutcome,
    _announce_after_commit,
    _beyond_reopen_window,
    _fill_missing,
    _message_metadata,
    _subject_from_text,
    ingest_message,
    lock_key,
)
from tickets.models import ChannelAccount, ChannelIdentity, Customer, Message, Ticket, TicketEvent
from tickets.routing import rules as routing_rules
from tickets.sla.engine import update_clocks_for_messages


@dataclass
class Inbound:
    """One message to thread, with what it came in: the raw event and when that arrived."""

    normalized: NormalizedMessage
    event: object | None = None
    outcome: IngestOutcome | None = field(default=None, init=False)


def ingest_many(*, account: ChannelAccount, items: Sequence[Inbound]) -> list[IngestOutcome]:
    """Thread every item (in the given order, which is arrival order); returns their outcomes in
    the same order. Call inside a transaction or not: it opens its own."""
    if not items:
        return []
    with transaction.atomic(savepoint=False), live_events_suppressed():
        _lock_customers(account, items)
        by_customer: dict[tuple[str, str], list[Inbound]] = defaultdict(list)
        for item in items:
            handle = item.normalized.customer
            by_customer[(handle.kind, handle.value)].append(item)

        slow: set[tuple[str, str]] = {key for key, group in by_customer.items() if not all(map(_simple, group))}
        _mark_duplicates(account, [item for key, group in by_customer.items() if key not in slow for item in group])
        customers = _customers(account, by_customer, slow)
        tickets = _thread_tickets(account, by_customer, slow)

        # The uncommon cases, each through the one-message path (its locks are ours already).
        for item in items:
            handle = item.normalized.customer
            if (handle.kind, handle.value) in slow:
                item.outcome = ingest_message(account=account, normalized=item.normalized, event=item.event)
        _thread_simple(account, [item for item in items if item.outcome is None], customers, tickets)
        for item in items:
            if isinstance(item.outcome, _Same):
                item.outcome = item.outcome.resolve()
    return [item.outcome for item in items]


def _simple(item: Inbound) -> bool:
    normalized = item.normalized
    return bool(
        normalized.external_id
        and normalized.customer.value
        and not normalized.references
        and not normalized.attachments
        and not normalized.is_auto_reply
        and not normalized.order_reference
        and not normalized.metadata.get("from_mailbox")
        and not TICKET_REFERENCE.search(normalized.subject or "")
    )


def _lock_customers(account: ChannelAccount, items: Sequence[Inbound]) -> None:
    keys = sorted({lock_key(account, item.normalized.customer) for item in items})
    with connection.cursor() as cursor:
        # Sorted by the lock's own hash: every batch takes its locks in one global order.
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(h)) FROM ("
            " SELECT hashtextextended(k, 0) AS h FROM unnest(%s::text[]) AS k ORDER BY 1 OFFSET 0) AS ordered",
            [keys],
        )


def _mark_duplicates(account: ChannelAccount, items: list[Inbound]) -> None:
    """A message already stored (an earlier delivery) reports that message, as `ingest_message`
    does; a message twice in the batch is threaded once."""
    known = {
        external_id: (pk, ticket_id)
        for external_id, pk, ticket_id in Message.objects.filter(
            channel_account=account, external_id__in={item.normalized.external_id for item in items}
        ).values_list("external_id", "pk", "ticket_id")
    }
    first_in_batch: dict[str, Inbound] = {}
    for item in items:
        external_id = item.normalized.external_id
        if external_id in known:
            pk, ticket_id = known[external_id]
            item.outcome = IngestOutcome(ticket_id=ticket_id, message_id=pk, duplicate=True)
        elif external_id in first_in_batch:
            item.outcome = _Same(first_in_batch[external_id])
        else:
            first_in_batch[external_id] = item


class _Same(IngestOutcome):
    """A later copy of a message in the same batch: its outcome is the first copy's, once known."""

    def __init__(self, first: Inbound) -> None:
        super().__init__()
        self.first = first

    def resolve(self) -> IngestOutcome:
        original = self.first.outcome
        return IngestOutcome(ticket_id=original.ticket_id, message_id=original.message_id, duplicate=True)


def _customers(account, by_customer, slow: set) -> dict[tuple[str, str], Customer]:
    """The customer of every simple handle: found by its identity, or created with it. A handle
    that might lead to a customer known on another channel (it carries an email address or phone
    number of another kind), or to a merged customer, takes the one-message road instead."""
    wanted = [key for key in by_customer if key not in slow]
    scoped: dict[bool, list[tuple[str, str]]] = defaultdict(list)
    for key in wanted:
        scoped[by_customer[key][0].normalized.customer.scoped_to_account].append(key)
    found: dict[tuple[str, str], Customer] = {}
    for is_scoped, keys in scoped.items():
        identities = ChannelIdentity.objects.select_related("customer").filter(
            account=account if is_scoped else None,
            kind__in={kind for kind, _ in keys},
            value__in={value for _, value in keys},
        )
        for identity in identities:
            if (identity.kind, identity.value) in by_customer:
                found[(identity.kind, identity.value)] = identity.customer

    customers: dict[tuple[str, str], Customer] = {}
    new: list[tuple[tuple[str, str], Customer]] = []
    for key in wanted:
        first = by_customer[key][0].normalized
        handle = first.customer
        customer = found.get(key)
        if customer is not None and customer.merged_into_id is None:
            _fill_missing(customer, handle, first.language)
            customers[key] = customer
        elif customer is None and not _may_be_known_elsewhere(handle):
            new.append((key, Customer(
                name=handle.display_name[:200], email=handle.email.lower() if handle.email else "",
                phone=handle.phone, language=first.language[:8],
            )))
        else:
            slow.add(key)
    if new:
        Customer.objects.bulk_create([customer for _, customer in new])
        ChannelIdentity.objects.bulk_create([
            ChannelIdentity(
                customer=customer, kind=kind, value=value,
                account=account if by_customer[(kind, value)][0].normalized.customer.scoped_to_account else None,
                display_name=by_customer[(kind, value)][0].normalized.customer.display_name[:200],
            )
            for (kind, value), customer in new
        ])
        customers.update(new)
    return customers


def _may_be_known_elsewhere(handle: CustomerHandle) -> bool:
    email = handle.email.lower() if handle.email else ""
    return bool(
        (email and (ChannelIdentity.Kind.EMAIL, email) != (handle.kind, handle.value))
        or (handle.phone and (ChannelIdentity.Kind.PHONE, handle.phone) != (handle.kind, handle.value))
    )


def _thread_tickets(account, by_customer, slow: set) -> dict[str, Ticket]:
    """The ticket of every provider thread in the batch (the newest, as `find_ticket` picks),
    locked for the update. A thread whose ticket was merged away, or solved too long ago to
    reopen, sends its customer down the one-message road."""
    keys = {
        item.normalized.thread_key
        for key, group in by_customer.items() if key not in slow
        for item in group if item.normalized.thread_key
    }
    if not keys:
        return {}
    newest: dict[str, Ticket] = {}
    for ticket in Ticket.objects.select_for_update(of=("self",)).filter(
        channel_account=account, external_thread_id__in=keys
    ):
        current = newest.get(ticket.external_thread_id)
        if current is None or (ticket.created_at, ticket.pk) > (current.created_at, current.pk):
            newest[ticket.external_thread_id] = ticket
    for key, group in by_customer.items():
        if key in slow:
            continue
        for item in group:
            ticket = newest.get(item.normalized.thread_key)
            if ticket is not None and (ticket.merged_into_id is not None or _beyond_reopen_window(ticket)):
                slow.add(key)
                break
    return newest


def _thread_simple(account, items: list[Inbound], customers, tickets: dict[str, Ticket]) -> None:
    now = timezone.now()
    new_tickets: list[Ticket] = []
    ticket_of: list[Ticket] = []  # the ticket of each item, in order
    for item in items:
        normalized = item.normalized
        ticket = tickets.get(normalized.thread_key) if normalized.thread_key else None
        if ticket is None:
            customer = customers[(normalized.customer.kind, normalized.customer.value)]
            subject = TICKET_REFERENCE.sub("", normalized.subject or "").strip() or _subject_from_text(normalized)
            ticket = Ticket(
                store=account.store, channel=normalized.channel, channel_account=account,
                external_thread_id=normalized.thread_key, customer=customer, subject=subject[:500],
                language=normalized.language or customer.language or account.store.default_language,
                marketplace=normalized.marketplace, created_at=now, updated_at=now,
            )
            ticket._created_here = True
            new_tickets.append(ticket)
            if normalized.thread_key:
                tickets[normalized.thread_key] = ticket
        ticket_of.append(ticket)
    if new_tickets:
        Ticket.objects.bulk_create(new_tickets)
        TicketEvent.objects.bulk_create([
            TicketEvent(ticket=ticket, kind=TicketEvent.Kind.CREATED, created_at=ticket.created_at)
            for ticket in new_tickets
        ])

    messages: list[Message] = []
    previous_status: list[str] = []
    for item, ticket in zip(items, ticket_of, strict=True):
        normalized = item.normalized
        received = item.event.received_at if item.event is not None else now
        previous_status.append(ticket.status)
        actions.note_customer_message(ticket, received)
        if normalized.marketplace and not ticket.marketplace:
            ticket.marketplace = normalized.marketplace
        messages.append(Message(
            ticket=ticket, direction=Message.Direction.INBOUND, author_type=Message.AuthorType.CUSTOMER,
            author_customer=customers[(normalized.customer.kind, normalized.customer.value)],
            channel=normalized.channel or ticket.channel, channel_account_id=account.pk,
            subject=normalized.subject[:500], body_text=normalized.body_text,
            body_html=sanitize_html(normalized.body_html) if normalized.body_html else "",
            external_id=normalized.external_id,
            external_thread_id=normalized.thread_key or ticket.external_thread_id,
            delivery_state=Message.DeliveryState.RECEIVED, created_at=received,
            visible_text=normalized.visible_text, metadata=_message_metadata(normalized),
            inbound_event=item.event,
        ))
    Message.objects.bulk_create(messages)
    events: list[TicketEvent] = []
    for message, previous in zip(messages, previous_status, strict=True):
        events.extend(actions.message_events(message.ticket, message, previous_status=previous))
    TicketEvent.objects.bulk_create(events)
    touched = {id(message.ticket): message.ticket for message in messages}.values()
    update_rows(list(touched), ["status", "solved_at", "last_customer_message_at", "updated_at", "marketplace"])

    # What `add_message` does after storing each message: the SLA clocks, for the whole batch.
    update_clocks_for_messages([(message.ticket, message) for message in messages])
    by_ticket = iter(messages)
    for item, ticket in zip(items, ticket_of, strict=True):
        message = next(by_ticket)
        created = getattr(ticket, "_created_here", False) and ticket.pk is not None and _first_of(ticket, message)
        # Then what `ingest_message` does, in arrival order: the automation rules.
        trigger = routing_rules.TICKET_CREATED if created else routing_rules.CUSTOMER_REPLIED
        message.ticket = routing_rules.run_rules(message.ticket, trigger, message=message).ticket
        item.outcome = IngestOutcome(ticket_id=ticket.pk, message_id=message.pk, created_ticket=created)
        _announce_after_commit(message)


def _first_of(ticket: Ticket, message: Message) -> bool:
    """Whether `message` opened `ticket` (the first message threaded onto a ticket made here)."""
    first = getattr(ticket, "_first_message", None)
    if first is None:
        ticket._first_message = message
        return True
    return first is message
