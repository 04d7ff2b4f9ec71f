"""Business actions on tickets, customers and orders.

Views, API, tasks, management commands and tests all call these; they never see a request. Each
action opens its own transaction, writes the change with its timeline event and schedules live
events after the commit. `create_ticket` and `add_message`, on every inbound message's path, take no
savepoint of their own inside a caller's transaction (`atomic(savepoint=False)`): they raise no
validation errors, a database failure aborts the caller's whole transaction anyway, and the
savepoint queries are saved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from tickets.events import publish_on_commit, ticket_changed_payload, ticket_groups
from tickets.models import (
    ChannelIdentity,
    Customer,
    Message,
    Order,
    OrderLine,
    Shipment,
    Store,
    Team,
    Ticket,
    TicketEvent,
)
from tickets.sla.engine import update_clocks as update_sla_clocks


def _touch(ticket: Ticket, when=None) -> None:
    ticket.updated_at = when or timezone.now()


def _announce(ticket: Ticket) -> None:
    publish_on_commit(ticket_groups(ticket), ticket_changed_payload(ticket))


def create_ticket(
    *,
    store,
    channel: str,
    customer: Customer,
    subject: str = "",
    channel_account=None,
    external_thread_id: str = "",
    language: str = "",
    priority: int = Ticket.Priority.NORMAL,
    created_at=None,
    actor: AbstractBaseUser | None = None,
) -> Ticket:
    """Open a new ticket for a customer. Messages are added with `add_message`."""
    now = created_at or timezone.now()
    with transaction.atomic(savepoint=False):
        ticket = Ticket.objects.create(
            store=store,
            channel=channel,
            channel_account=channel_account,
            external_thread_id=external_thread_id,
            customer=customer,
            subject=subject[:500],
            language=language or customer.language or store.default_language,
            priority=priority,
            created_at=now,
            updated_at=now,
        )
        TicketEvent.objects.create(ticket=ticket, kind=TicketEvent.Kind.CREATED, actor=actor, created_at=now)
        _announce(ticket)
    return ticket


def note_customer_message(ticket: Ticket, when) -> None:
    """A customer spoke on the ticket (in memory; the caller saves): a pending or solved ticket
    opens again. Shared by `add_message` and the batched ingest path."""
    ticket.last_customer_message_at = when
    if ticket.status in (Ticket.Status.PENDING, Ticket.Status.SOLVED, Ticket.Status.CLOSED):
        ticket.status = Ticket.Status.OPEN
        ticket.solved_at = None
    _touch(ticket, when)


def message_events(
    ticket: Ticket, message: Message, *, previous_status: str, actor: AbstractBaseUser | None = None
) -> list[TicketEvent]:
    """The timeline entries of a new message (unsaved): the message itself, and the reopening it
    caused, if any."""
    events = [TicketEvent(
        ticket=ticket, kind=TicketEvent.Kind.MESSAGE, actor=actor, created_at=message.created_at,
        data={"message_id": message.pk, "direction": message.direction},
    )]
    if previous_status != ticket.status and previous_status in (Ticket.Status.SOLVED, Ticket.Status.CLOSED):
        events.append(TicketEvent(
            ticket=ticket, kind=TicketEvent.Kind.REOPENED, created_at=message.created_at,
            data={"from": previous_status, "to": ticket.status},
        ))
    return events


def add_message(
    *,
    ticket: Ticket,
    direction: str,
    body_text: str = "",
    body_html: str = "",
    author_user: AbstractBaseUser | None = None,
    author_customer: Customer | None = None,
    author_type: str | None = None,
    subject: str = "",
    channel: str | None = None,
    channel_account=None,
    external_id: str = "",
    external_thread_id: str = "",
    delivery_state: str | None = None,
    created_at=None,
    visible_text: str = "",
    is_auto_reply: bool = False,
    metadata: dict | None = None,
    inbound_event=None,
    ticket_is_locked: bool = False,
) -> Message:
    """Attach a message to a ticket and keep the ticket's timestamps and status in step.

    - an inbound message sets `last_customer_message_at` and reopens a pending or solved ticket;
    - the first outbound reply sets `first_response_at`;
    - an internal note changes neither (a note is not a response);
    - an automatic reply (out-of-office, bounce) is recorded but changes neither: it is not the
      customer speaking; nor does our own automatic acknowledgement (outbound, `is_auto_reply`):
      it is not a response.
    Outbound replies start as queued; the channel adapter moves them on.
    `channel` and `channel_account` (default: the ticket's) send a reply on another of the
    customer's channels, with `external_thread_id` as the recipient there.
    `ticket_is_locked`: the caller already holds the ticket's row lock in its transaction (or has
    just created it there), so it is not locked again.
    """
    now = created_at or timezone.now()
    if author_type is None:
        author_type = {
            Message.Direction.INBOUND: Message.AuthorType.CUSTOMER,
            Message.Direction.OUTBOUND: Message.AuthorType.AGENT,
            Message.Direction.NOTE: Message.AuthorType.AGENT,
        }[direction]
    if delivery_state is None:
        delivery_state = (
            Message.DeliveryState.QUEUED if direction == Message.Direction.OUTBOUND else Message.DeliveryState.RECEIVED
        )
    with transaction.atomic(savepoint=False):
        if not ticket_is_locked:
            ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        message = Message.objects.create(
            ticket=ticket,
            direction=direction,
            author_type=author_type,
            author_user=author_user,
            author_customer=author_customer if author_customer is not None else (
                ticket.customer if direction == Message.Direction.INBOUND else None
            ),
            channel=channel or ticket.channel,
            channel_account_id=channel_account.pk if channel_account is not None else ticket.channel_account_id,
            subject=subject[:500],
            body_text=body_text,
            body_html=body_html,
            external_id=external_id,
            external_thread_id=external_thread_id or ticket.external_thread_id,
            delivery_state=delivery_state,
            created_at=now,
            visible_text=visible_text,
            is_auto_reply=is_auto_reply,
            metadata=metadata or {},
            inbound_event=inbound_event,
        )
        previous_status = ticket.status
        if direction == Message.Direction.INBOUND and not is_auto_reply:
            note_customer_message(ticket, now)
        elif direction == Message.Direction.OUTBOUND and not is_auto_reply:
            # An automatic acknowledgement is sent, but it is nobody's answer: no response time,
            # no status change.
            ticket.last_agent_message_at = now
            if ticket.first_response_at is None:
                ticket.first_response_at = now
            if ticket.status == Ticket.Status.NEW:
                ticket.status = Ticket.Status.OPEN
        _touch(ticket, now)
        ticket.save(update_fields=[
            "status", "solved_at", "last_customer_message_at", "last_agent_message_at", "first_response_at",
            "updated_at",
        ])
        update_sla_clocks(ticket, at=now, message=message)
        TicketEvent.objects.bulk_create(
            message_events(ticket, message, previous_status=previous_status, actor=author_user)
        )
        publish_on_commit(
            ticket_groups(ticket),
            {"type": "message.added", "ticket_id": ticket.pk, "message_id": message.pk, "direction": direction},
        )
        _announce(ticket)
        if (
            direction == Message.Direction.OUTBOUND
            and delivery_state == Message.DeliveryState.QUEUED
            and message.channel_account_id is not None
        ):
            # A worker sends it once it is committed (never before: it could not see the row). If
            # the broker is down the reply stays queued and the outbound sweeper sends it later.
            # Imported here: channels_ingest depends on tickets, not the other way round.
            from channels_ingest.outbound import dispatch_queued_message

            transaction.on_commit(partial(dispatch_queued_message, message.pk), robust=True)
    return message


def change_status(
    *, ticket: Ticket, status: str, actor: AbstractBaseUser | None = None, created_at=None
) -> Ticket:
    """Move the ticket to `status`. `created_at` (default: now) dates the change, for imports and
    demo data."""
    if status not in Ticket.Status.values:
        raise ValueError(f"unknown ticket status {status!r}")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.status == status:
            return ticket
        previous = ticket.status
        now = created_at or timezone.now()
        ticket.status = status
        if status == Ticket.Status.SOLVED:
            ticket.solved_at = now
        elif status == Ticket.Status.CLOSED:
            ticket.closed_at = now
            ticket.solved_at = ticket.solved_at or now
        else:
            ticket.solved_at = None
            ticket.closed_at = None
        _touch(ticket, now)
        ticket.save()
        update_sla_clocks(ticket, at=now, agent=actor)
        TicketEvent.objects.create(
            ticket=ticket, kind=TicketEvent.Kind.STATUS_CHANGED, actor=actor, data={"from": previous, "to": status},
            created_at=now,
        )
        _announce(ticket)
        solved_now = status == Ticket.Status.SOLVED or (
            status == Ticket.Status.CLOSED and previous != Ticket.Status.SOLVED
        )
        if solved_now and created_at is None:
            # The customer survey, once the solve is committed. Not for back-dated changes
            # (imports, demo data): those customers were helped long ago.
            # Imported here: surveys depends on tickets, not the other way round.
            from surveys.actions import schedule_survey

            transaction.on_commit(partial(schedule_survey, ticket), robust=True)
    return ticket


def assign_ticket(
    *, ticket: Ticket, assignee: AbstractBaseUser | None, team=None, actor: AbstractBaseUser | None = None,
    created_at=None,
) -> Ticket:
    """Give the ticket to an agent (or to nobody) and optionally to a team. `created_at` (default:
    now) dates the change."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        changes = {}
        if ticket.assignee_id != (assignee.pk if assignee else None):
            changes["assignee"] = {"from": ticket.assignee_id, "to": assignee.pk if assignee else None}
            ticket.assignee = assignee
        if team is not None and ticket.team_id != team.pk:
            changes["team"] = {"from": ticket.team_id, "to": team.pk}
            ticket.team = team
        if not changes:
            return ticket
        now = created_at or timezone.now()
        _touch(ticket, now)
        ticket.save()
        if "assignee" in changes:
            TicketEvent.objects.create(
                ticket=ticket, kind=TicketEvent.Kind.ASSIGNED, actor=actor, data=changes["assignee"], created_at=now
            )
        if "team" in changes:
            TicketEvent.objects.create(
                ticket=ticket, kind=TicketEvent.Kind.TEAM_CHANGED, actor=actor, data=changes["team"], created_at=now
            )
        _announce(ticket)
    return ticket


def set_team(
    *, ticket: Ticket, team: Team | None, actor: AbstractBaseUser | None = None, created_at=None
) -> Ticket:
    """Move the ticket to a team, or to no team at all; the assignee is left alone. `created_at`
    (default: now) dates the change.

    `assign_ticket` cannot clear a team (there `team=None` means "leave it"), hence this one.
    """
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        new_team_id = team.pk if team is not None else None
        if ticket.team_id == new_team_id:
            return ticket
        previous = ticket.team_id
        ticket.team = team
        now = created_at or timezone.now()
        _touch(ticket, now)
        ticket.save()
        TicketEvent.objects.create(
            ticket=ticket, kind=TicketEvent.Kind.TEAM_CHANGED, actor=actor, data={"from": previous, "to": new_team_id},
            created_at=now,
        )
        _announce(ticket)
    return ticket


def set_priority(
    *, ticket: Ticket, priority: int, actor: AbstractBaseUser | None = None, created_at=None
) -> Ticket:
    """Change the priority. `created_at` (default: now) dates the change."""
    if priority not in Ticket.Priority.values:
        raise ValueError(f"unknown priority {priority!r}")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.priority == priority:
            return ticket
        previous = ticket.priority
        ticket.priority = priority
        now = created_at or timezone.now()
        _touch(ticket, now)
        ticket.save()
        update_sla_clocks(ticket, at=now)
        TicketEvent.objects.create(
            ticket=ticket, kind=TicketEvent.Kind.PRIORITY_CHANGED, actor=actor, data={"from": previous, "to": priority},
            created_at=now,
        )
        _announce(ticket)
    return ticket


def set_tags(
    *, ticket: Ticket, tags: Iterable, actor: AbstractBaseUser | None = None, created_at=None
) -> Ticket:
    """Replace the ticket's tags. `created_at` (default: now) dates the change."""
    tags = list(tags)
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        before = sorted(ticket.tags.values_list("name", flat=True))
        after = sorted(tag.name for tag in tags)
        if before == after:
            return ticket
        ticket.tags.set(tags)
        now = created_at or timezone.now()
        _touch(ticket, now)
        ticket.save(update_fields=["updated_at"])
        update_sla_clocks(ticket, at=now)
        TicketEvent.objects.create(
            ticket=ticket, kind=TicketEvent.Kind.TAGGED, actor=actor, data={"from": before, "to": after},
            created_at=now,
        )
        _announce(ticket)
    return ticket


def link_order(
    *, ticket: Ticket, order: Order, actor: AbstractBaseUser | None = None, created_at=None
) -> bool:
    """Link an order to a ticket; returns False when it was linked already. `created_at` (default:
    now) dates the timeline event."""
    with transaction.atomic():
        if ticket.orders.filter(pk=order.pk).exists():
            return False
        ticket.orders.add(order)
        TicketEvent.objects.create(
            ticket=ticket, kind=TicketEvent.Kind.ORDER_LINKED, actor=actor,
            data={"order_id": order.pk, "number": order.number}, created_at=created_at or timezone.now(),
        )
    return True


def create_order(
    *,
    store: Store,
    marketplace: str,
    external_id: str,
    number: str,
    lines: Iterable[Mapping[str, Any]] = (),
    shipments: Iterable[Mapping[str, Any]] = (),
    **fields: Any,
) -> Order:
    """Record an order with its lines and shipments, all or nothing.

    `fields` are the remaining Order fields (customer, channel_account, status, currency, totals,
    placed_at, addresses); `lines` and `shipments` are mappings of OrderLine and Shipment fields.
    The caller checks uniqueness on (store, marketplace, external_id) first; a duplicate that
    slips through a race raises IntegrityError and nothing is stored.
    """
    with transaction.atomic():
        order = Order.objects.create(
            store=store, marketplace=marketplace, external_id=external_id, number=number, **fields
        )
        OrderLine.objects.bulk_create(OrderLine(order=order, **line) for line in lines)
        Shipment.objects.bulk_create(Shipment(order=order, **shipment) for shipment in shipments)
    return order


def merge_customers(*, source: Customer, target: Customer, actor: AbstractBaseUser | None = None) -> Customer:
    """Fold `source` into `target`: identities, tickets, orders and authored messages move over,
    empty profile fields are filled from the source, and the source is kept as a pointer
    (`merged_into`) so that old links still resolve. Nothing is deleted.
    """
    if source.pk == target.pk:
        raise ValueError("a customer cannot be merged into itself")
    with transaction.atomic():
        # Lock both rows in a fixed order so two concurrent merges cannot deadlock.
        locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[source.pk, target.pk]).order_by("pk")}
        source, target = locked[source.pk], locked[target.pk]
        if source.merged_into_id is not None:
            raise ValueError("this customer has already been merged")
        if target.merged_into_id is not None:
            raise ValueError("cannot merge into a customer that has itself been merged")

        for identity in ChannelIdentity.objects.filter(customer=source):
            duplicate = ChannelIdentity.objects.filter(
                customer=target, kind=identity.kind, value=identity.value, account=identity.account_id
            ).exists()
            if duplicate:
                identity.delete()
            else:
                identity.customer = target
                identity.save(update_fields=["customer"])
        ticket_ids = list(Ticket.objects.filter(customer=source).values_list("pk", flat=True))
        Ticket.objects.filter(pk__in=ticket_ids).update(customer=target)
        Order.objects.filter(customer=source).update(customer=target)
        Message.objects.filter(author_customer=source).update(author_customer=target)

        for field in ("name", "email", "phone", "language", "time_zone", "country"):
            if not getattr(target, field) and getattr(source, field):
                setattr(target, field, getattr(source, field))
        if source.note:
            target.note = f"{target.note}\n\n{source.note}".strip()
        target.save()
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated_at"])

        TicketEvent.objects.bulk_create(
            TicketEvent(
                ticket_id=ticket_id, kind=TicketEvent.Kind.CUSTOMER_MERGED, actor=actor,
                data={"from_customer": source.pk, "to_customer": target.pk},
            )
            for ticket_id in ticket_ids
        )
    return target


class TicketActionError(ValueError):
    """An action on tickets that cannot be done (merge, split, link); the message is written for
    the agent (translated)."""


class MergeError(TicketActionError):
    """A merge that cannot be done."""


def merge_tickets(*, source: Ticket, target: Ticket, actor: AbstractBaseUser | None = None) -> Ticket:
    """Move every message (with its attachments), order and tag of `source` into `target`; `source`
    is closed and points at `target` (`merged_into`). Events stay on both timelines, and the ticket
    page shows a merged ticket's events on its target's timeline too. Returns the target.

    Raises MergeError when source and target are the same ticket, when the source was merged
    already, or when the target was itself merged into another ticket (merge into that one).
    """
    from django.utils.translation import gettext as _

    if source.pk == target.pk:
        raise MergeError(_("A ticket cannot be merged into itself."))
    with transaction.atomic():
        locked = {t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[source.pk, target.pk]).order_by("pk")}
        source, target = locked[source.pk], locked[target.pk]
        if source.merged_into_id is not None:
            raise MergeError(_("Ticket #%(id)s was already merged into #%(target)s.")
                             % {"id": source.pk, "target": source.merged_into_id})
        if target.merged_into_id is not None:
            raise MergeError(_("Ticket #%(id)s was merged into #%(target)s: merge into that one instead.")
                             % {"id": target.pk, "target": target.merged_into_id})
        moved = Message.objects.filter(ticket=source).update(ticket=target)
        target.orders.add(*source.orders.all())
        target.tags.add(*source.tags.all())
        now = timezone.now()
        if source.last_customer_message_at and (
            target.last_customer_message_at is None or source.last_customer_message_at > target.last_customer_message_at
        ):
            target.last_customer_message_at = source.last_customer_message_at
        _touch(target, now)
        target.save()
        source.merged_into = target
        source.status = Ticket.Status.CLOSED
        source.closed_at = now
        _touch(source, now)
        source.save()
        update_sla_clocks(source, at=now, agent=actor)  # closed: its clocks stop here
        TicketEvent.objects.create(
            ticket=target, kind=TicketEvent.Kind.MERGED, actor=actor, data={"merged_ticket": source.pk, "messages": moved}
        )
        TicketEvent.objects.create(
            ticket=source, kind=TicketEvent.Kind.MERGED, actor=actor, data={"merged_into": target.pk, "messages": moved}
        )
        _announce(source)
        _announce(target)
    return target


def add_tags(*, ticket: Ticket, tags: Iterable, actor: AbstractBaseUser | None = None) -> Ticket:
    """Add tags to the ticket, keeping those it has (the inbox's bulk "tag"). The ticket is
    locked while its tags are read, so two agents tagging at once both keep their tags."""
    tags = list(tags)
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        current = list(locked.tags.all())
        if {tag.pk for tag in tags} <= {tag.pk for tag in current}:
            return locked
        return set_tags(ticket=locked, tags={tag.pk: tag for tag in [*current, *tags]}.values(), actor=actor)


def mark_spam(*, ticket: Ticket, actor: AbstractBaseUser | None = None, spam: bool = True) -> Ticket:
    """Mark the ticket as spam: it is closed (its SLA clocks stop) and leaves every inbox view but
    "Spam". `spam=False` takes it back and reopens it. A SPAM event records either way."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.is_spam == spam:
            return ticket
        now = timezone.now()
        previous = ticket.status
        ticket.is_spam = spam
        if spam:
            ticket.status = Ticket.Status.CLOSED
            ticket.closed_at = now
        elif ticket.status == Ticket.Status.CLOSED:
            ticket.status = Ticket.Status.OPEN
            ticket.closed_at = None
            ticket.solved_at = None
        _touch(ticket, now)
        ticket.save()
        update_sla_clocks(ticket, at=now, agent=actor)
        TicketEvent.objects.create(
            ticket=ticket, kind=TicketEvent.Kind.SPAM, actor=actor,
            data={"spam": spam, "from": previous, "to": ticket.status}, created_at=now,
        )
        _announce(ticket)
    return ticket


__all__ = [
    "add_message",
    "add_tags",
    "assign_ticket",
    "change_status",
    "create_order",
    "create_ticket",
    "link_order",
    "mark_spam",
    "MergeError",
    "TicketActionError",
    "merge_customers",
    "merge_tickets",
    "set_priority",
    "set_tags",
    "set_team",
]
