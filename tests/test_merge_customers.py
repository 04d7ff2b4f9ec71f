"""Merging two customers keeps every message, order, ticket and identity on the survivor."""

from __future__ import annotations

import pytest

from tests.factories import (
    ChannelAccountFactory,
    ChannelIdentityFactory,
    CustomerFactory,
    MessageFactory,
    OrderFactory,
    TicketFactory,
)
from tickets import actions
from tickets.models import ChannelIdentity, Customer, Message, Order, TicketEvent

pytestmark = pytest.mark.django_db


def test_merge_moves_tickets_messages_orders_and_identities(bob):
    whatsapp = ChannelAccountFactory(channel="whatsapp", provider="whatsapp")
    by_email = CustomerFactory(name="Lucía Gómez", email="lucia.gomez@example.es", phone="")
    by_whatsapp = CustomerFactory(name="", email="", phone="+34600111222", language="es")
    ChannelIdentityFactory(customer=by_email, kind="email", value="lucia.gomez@example.es")
    ChannelIdentityFactory(customer=by_whatsapp, kind="whatsapp", value="34600111222", account=whatsapp)
    email_ticket = TicketFactory(customer=by_email)
    whatsapp_ticket = TicketFactory(customer=by_whatsapp, channel="whatsapp")
    MessageFactory(ticket=email_ticket)
    whatsapp_messages = [MessageFactory(ticket=whatsapp_ticket) for _ in range(3)]
    order = OrderFactory(customer=by_whatsapp)

    survivor = actions.merge_customers(source=by_whatsapp, target=by_email, actor=bob)

    assert survivor.pk == by_email.pk
    assert set(survivor.tickets.values_list("pk", flat=True)) == {email_ticket.pk, whatsapp_ticket.pk}
    assert list(Order.objects.filter(customer=survivor)) == [order]
    assert Message.objects.filter(author_customer=survivor).count() == 4
    assert {m.pk for m in whatsapp_messages} <= set(Message.objects.filter(author_customer=survivor).values_list("pk", flat=True))
    assert sorted(survivor.identities.values_list("kind", "value")) == [
        ("email", "lucia.gomez@example.es"),
        ("whatsapp", "34600111222"),
    ]
    # Empty fields are filled from the merged customer, set ones are kept.
    survivor.refresh_from_db()
    assert survivor.name == "Lucía Gómez"
    assert survivor.phone == "+34600111222"
    # The merged customer stays as a pointer, owning nothing.
    by_whatsapp.refresh_from_db()
    assert by_whatsapp.merged_into_id == survivor.pk
    assert not by_whatsapp.tickets.exists() and not by_whatsapp.identities.exists()
    assert TicketEvent.objects.filter(ticket=whatsapp_ticket, kind="customer_merged", actor=bob).count() == 1


def test_same_identity_on_both_is_kept_once():
    first = CustomerFactory()
    second = CustomerFactory()
    ChannelIdentityFactory(customer=first, kind="email", value="same@example.com")
    ChannelIdentity.objects.create(customer=second, kind="phone", value="+40722000111")
    # A second row for the same address cannot exist (unique constraint), so collide on phone:
    ChannelIdentity.objects.create(customer=first, kind="phone", value="+40722000999")

    actions.merge_customers(source=second, target=first)

    assert sorted(first.identities.values_list("value", flat=True)) == ["+40722000111", "+40722000999", "same@example.com"]


def test_merging_into_itself_is_refused():
    customer = CustomerFactory()
    with pytest.raises(ValueError, match="into itself"):
        actions.merge_customers(source=customer, target=customer)


def test_merging_a_merged_customer_again_is_refused():
    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    actions.merge_customers(source=a, target=b)
    with pytest.raises(ValueError, match="already been merged"):
        actions.merge_customers(source=a, target=c)
    assert Customer.objects.get(pk=a.pk).merged_into_id == b.pk


def test_merging_into_a_merged_customer_is_refused():
    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    ticket = TicketFactory(customer=c)
    actions.merge_customers(source=b, target=a)
    with pytest.raises(ValueError, match="has itself been merged"):
        actions.merge_customers(source=c, target=b)
    ticket.refresh_from_db()
    assert ticket.customer_id == c.pk
