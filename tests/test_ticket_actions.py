"""Ticket actions keep timestamps, status and the timeline in step."""

from __future__ import annotations

import pytest

from tests.factories import CustomerFactory, OrderFactory, StoreFactory, TagFactory, TicketFactory
from tickets import actions
from tickets.models import Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def _kinds(ticket: Ticket) -> list[str]:
    return list(ticket.events.order_by("pk").values_list("kind", flat=True))


def test_create_ticket_records_created_event_and_takes_the_customer_language():
    store = StoreFactory(default_language="es")
    customer = CustomerFactory(language="ro")
    ticket = actions.create_ticket(store=store, channel="email", customer=customer, subject="Comanda mea")
    assert ticket.status == Ticket.Status.NEW
    assert ticket.language == "ro"
    assert _kinds(ticket) == ["created"]


def test_first_reply_sets_first_response_and_opens_a_new_ticket(alice):
    ticket = TicketFactory(status=Ticket.Status.NEW)
    actions.add_message(ticket=ticket, direction=Message.Direction.INBOUND, body_text="Hi")
    reply = actions.add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="Hello!", author_user=alice)
    ticket.refresh_from_db()
    assert reply.delivery_state == Message.DeliveryState.QUEUED
    assert ticket.first_response_at == reply.created_at
    assert ticket.status == Ticket.Status.OPEN
    later = actions.add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="More", author_user=alice)
    ticket.refresh_from_db()
    assert ticket.first_response_at == reply.created_at
    assert ticket.last_agent_message_at == later.created_at


def test_internal_note_is_not_a_response(alice):
    ticket = TicketFactory(status=Ticket.Status.NEW)
    actions.add_message(ticket=ticket, direction=Message.Direction.NOTE, body_text="VIP, be nice", author_user=alice)
    ticket.refresh_from_db()
    assert ticket.first_response_at is None
    assert ticket.status == Ticket.Status.NEW


def test_customer_reply_reopens_a_solved_ticket(alice):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    actions.change_status(ticket=ticket, status=Ticket.Status.SOLVED, actor=alice)
    ticket.refresh_from_db()
    assert ticket.solved_at is not None
    actions.add_message(ticket=ticket, direction=Message.Direction.INBOUND, body_text="Still broken")
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    assert ticket.solved_at is None
    assert _kinds(ticket)[-1] == "reopened"


def test_unknown_status_is_refused_and_nothing_changes():
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    with pytest.raises(ValueError):
        actions.change_status(ticket=ticket, status="teleported")
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    assert not TicketEvent.objects.filter(ticket=ticket).exists()


def test_assign_priority_tags_and_order_each_leave_one_event(alice, bob):
    ticket = TicketFactory()
    order = OrderFactory(store=ticket.store, customer=ticket.customer)
    tag = TagFactory(name="refund")
    actions.assign_ticket(ticket=ticket, assignee=alice, actor=bob)
    actions.assign_ticket(ticket=ticket, assignee=alice, actor=bob)  # no change, no event
    actions.set_priority(ticket=ticket, priority=Ticket.Priority.URGENT, actor=bob)
    actions.set_tags(ticket=ticket, tags=[tag], actor=bob)
    assert actions.link_order(ticket=ticket, order=order) is True
    assert actions.link_order(ticket=ticket, order=order) is False
    ticket.refresh_from_db()
    assert ticket.assignee == alice
    assert ticket.priority == Ticket.Priority.URGENT
    assert list(ticket.tags.values_list("name", flat=True)) == ["refund"]
    assert _kinds(ticket) == ["assigned", "priority_changed", "tagged", "order_linked"]


def test_merge_tickets_moves_messages_and_orders_and_closes_the_source(alice):
    customer = CustomerFactory()
    target = TicketFactory(customer=customer)
    source = TicketFactory(customer=customer, store=target.store)
    actions.add_message(ticket=source, direction="inbound", body_text="one")
    actions.add_message(ticket=source, direction="inbound", body_text="two")
    order = OrderFactory(store=target.store, customer=customer)
    source.orders.add(order)

    actions.merge_tickets(source=source, target=target, actor=alice)

    source.refresh_from_db()
    assert source.status == Ticket.Status.CLOSED and source.merged_into_id == target.pk
    assert list(target.messages.values_list("body_text", flat=True)) == ["one", "two"]
    assert list(target.orders.all()) == [order]
    assert TicketEvent.objects.get(ticket=target, kind="merged").data == {"merged_ticket": source.pk, "messages": 2}
