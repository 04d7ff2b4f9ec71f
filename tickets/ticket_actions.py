"""Business actions of the ticket page beyond replies and fields: split a message into a new
ticket, link and unlink tickets. (Merging is `tickets.actions.merge_tickets`.)

Plain functions like `tickets.actions`: views and the API call them, they never see a request,
each opens its own transaction, writes its timeline events and publishes live events after the
commit. Refusals raise `TicketActionError` with a message written for the agent.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets import actions
from tickets.actions import TicketActionError
from tickets.models import Message, Ticket, TicketEvent, TicketLink

__all__ = ["TicketActionError", "link_tickets", "split_message", "unlink_tickets"]


def split_message(
    *, message: Message, actor: AbstractBaseUser | None = None, subject: str = ""
) -> Ticket:
    """Move one message (with its attachments) of a ticket into a new ticket of the same customer,
    store and channel. Both timelines record it, and the two tickets are linked as related.

    The new ticket keeps no provider thread id: the customer's next message on that thread still
    joins the original ticket. Refused for a ticket's only message (nothing would be left) and for
    a merged ticket's messages (they live on the target now).
    """
    with transaction.atomic():
        source = Ticket.objects.select_for_update().select_related("store", "customer").get(pk=message.ticket_id)
        message = Message.objects.select_for_update().get(pk=message.pk)
        if message.ticket_id != source.pk:
            raise TicketActionError(_("This message moved to another ticket meanwhile."))
        if not Message.objects.filter(ticket=source).exclude(pk=message.pk).exists():
            raise TicketActionError(_("A ticket's only message cannot be split off."))
        new_subject = (subject.strip() or message.subject or source.subject)[:500]
        now = timezone.now()
        new = actions.create_ticket(
            store=source.store,
            channel=message.channel or source.channel,
            customer=source.customer,
            subject=new_subject,
            channel_account=message.channel_account or source.channel_account,
            language=source.language,
            priority=source.priority,
            created_at=now,
            actor=actor,
        )
        Message.objects.filter(pk=message.pk).update(ticket=new)
        new.orders.add(*source.orders.all())
        _recompute_message_times(new)
        _recompute_message_times(source)
        new.updated_at = now
        new.save()
        source.updated_at = now
        source.save(update_fields=["last_customer_message_at", "last_agent_message_at", "updated_at"])
        TicketEvent.objects.bulk_create([
            TicketEvent(ticket=source, kind=TicketEvent.Kind.SPLIT, actor=actor, created_at=now,
                        data={"message_id": message.pk, "to_ticket": new.pk}),
            TicketEvent(ticket=new, kind=TicketEvent.Kind.SPLIT, actor=actor, created_at=now,
                        data={"message_id": message.pk, "from_ticket": source.pk}),
        ])
        TicketLink.objects.create(from_ticket=new, to_ticket=source, kind=TicketLink.Kind.RELATED,
                                  created_by=actor, created_at=now)
        actions._announce(source)
        actions._announce(new)
    return new


def _recompute_message_times(ticket: Ticket) -> None:
    """The ticket's last customer and agent message times from the messages it has now (in
    memory; the caller saves)."""
    times = Message.objects.filter(ticket=ticket, is_auto_reply=False).aggregate(
        customer=Max("created_at", filter=Q(direction=Message.Direction.INBOUND)),
        agent=Max("created_at", filter=Q(direction=Message.Direction.OUTBOUND)),
    )
    ticket.last_customer_message_at = times["customer"]
    ticket.last_agent_message_at = times["agent"]


def link_tickets(
    *, ticket: Ticket, other: Ticket, kind: str = TicketLink.Kind.RELATED,
    actor: AbstractBaseUser | None = None,
) -> TicketLink:
    """Link `ticket` to `other` ("ticket is a duplicate / follow-up of other", or related). The
    link shows on both tickets and both timelines record it. Refused for the ticket itself, an
    unknown kind, or two tickets linked already (either way round)."""
    if kind not in TicketLink.Kind.values:
        raise TicketActionError(_("Unknown kind of link."))
    if ticket.pk == other.pk:
        raise TicketActionError(_("A ticket cannot be linked to itself."))
    with transaction.atomic():
        # Both rows locked in a fixed order: two agents linking the same pair wait for each other.
        list(Ticket.objects.select_for_update().filter(pk__in=[ticket.pk, other.pk]).order_by("pk"))
        existing = TicketLink.objects.filter(
            Q(from_ticket=ticket, to_ticket=other) | Q(from_ticket=other, to_ticket=ticket)
        ).first()
        if existing is not None:
            raise TicketActionError(
                _("Tickets #%(a)s and #%(b)s are linked already.") % {"a": ticket.pk, "b": other.pk}
            )
        now = timezone.now()
        link = TicketLink.objects.create(from_ticket=ticket, to_ticket=other, kind=kind, created_by=actor,
                                         created_at=now)
        TicketEvent.objects.bulk_create([
            TicketEvent(ticket_id=ticket.pk, kind=TicketEvent.Kind.LINKED, actor=actor, created_at=now,
                        data={"link_id": link.pk, "kind": kind, "to_ticket": other.pk}),
            TicketEvent(ticket_id=other.pk, kind=TicketEvent.Kind.LINKED, actor=actor, created_at=now,
                        data={"link_id": link.pk, "kind": kind, "from_ticket": ticket.pk}),
        ])
    return link


def unlink_tickets(*, link: TicketLink, actor: AbstractBaseUser | None = None) -> None:
    """Remove a link; both timelines record it."""
    with transaction.atomic():
        now = timezone.now()
        TicketEvent.objects.bulk_create([
            TicketEvent(ticket_id=link.from_ticket_id, kind=TicketEvent.Kind.UNLINKED, actor=actor, created_at=now,
                        data={"kind": link.kind, "to_ticket": link.to_ticket_id}),
            TicketEvent(ticket_id=link.to_ticket_id, kind=TicketEvent.Kind.UNLINKED, actor=actor, created_at=now,
                        data={"kind": link.kind, "from_ticket": link.from_ticket_id}),
        ])
        link.delete()

