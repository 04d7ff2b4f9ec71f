"""The search documents follow every write: one inbound message (`ingest_message`), a batch
(`ingest_many`, set-based bulk inserts), agent replies and notes, renamed customers, new
identities, linked and unlinked orders, merges, edited and deleted messages, deleted tickets.
The database triggers of migration 0012 keep them; these tests write through the real paths and
search afterwards."""

from __future__ import annotations

import pytest
from django.db import connection

from channels_ingest.base import CustomerHandle, NormalizedMessage
from tests.factories import (
    ChannelAccountFactory,
    CustomerFactory,
    OrderFactory,
    StoreFactory,
    UserFactory,
)
from tickets import actions
from tickets.ingest import ingest_message
from tickets.ingest_bulk import Inbound, ingest_many
from tickets.models import ChannelIdentity, Message, Ticket, TicketSearchDocument
from tickets.search import search_tickets

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(username="fresh-admin", role="admin")


@pytest.fixture
def account():
    return ChannelAccountFactory(channel="marketplace", provider="generic", display_name="eMAG",
                                 store=StoreFactory(slug="fresh-ro", default_language="ro"))


def found(user, query: str) -> list[int]:
    return [row.ticket.pk for row in search_tickets(user, query).rows]


def inbound(external_id: str, text: str, *, buyer: str = "buyer-1", name: str = "Ana Pop", thread: str = "t-1",
            subject: str = "") -> NormalizedMessage:
    return NormalizedMessage(
        channel="marketplace", external_id=external_id, body_text=text, subject=subject, thread_key=thread,
        customer=CustomerHandle(kind="ebay_user", value=buyer, display_name=name), language="ro",
    )


def a_ticket(subject: str = "Question", text: str = "") -> Ticket:
    customer = CustomerFactory(name="Plain Person", email="pp1@example.org")
    ticket = actions.create_ticket(store=StoreFactory(), channel="email", customer=customer, subject=subject)
    if text:
        actions.add_message(ticket=ticket, direction=Message.Direction.INBOUND, body_text=text)
    return ticket


def test_a_message_threaded_by_ingest_message_is_found_at_once(admin, account):
    first = ingest_message(account=account, normalized=inbound("m-1", "Unde este coletul meu?", subject="Colet"))
    later = ingest_message(account=account, normalized=inbound("m-2", "Am primit o umbrelă ruptă."))

    assert later.ticket_id == first.ticket_id
    assert found(admin, "umbrelă") == [first.ticket_id]
    assert found(admin, "coletul") == [first.ticket_id]
    assert found(admin, "Ana Pop") == [first.ticket_id]  # the customer the handle created


def test_messages_threaded_as_a_batch_are_found(admin, account):
    outcomes = ingest_many(account=account, items=[
        Inbound(inbound("b-1", "Primul mesaj despre o lampă.", buyer="b1", name="Radu Ene", thread="bt-1")),
        Inbound(inbound("b-2", "Al doilea mesaj despre o saltea.", buyer="b1", name="Radu Ene", thread="bt-1")),
        Inbound(inbound("b-3", "Alt client, alt subiect: o pernă.", buyer="b2", name="Ilinca Vasile", thread="bt-2")),
    ])

    lamp_ticket, other = outcomes[0].ticket_id, outcomes[2].ticket_id
    assert outcomes[1].ticket_id == lamp_ticket != other
    assert found(admin, "lampă") == [lamp_ticket]
    assert found(admin, "saltea") == [lamp_ticket]
    assert found(admin, "lampa saltea") == [lamp_ticket]
    assert found(admin, "pernă") == [other]
    assert found(admin, "Ilinca") == [other]


def test_a_batch_message_joining_an_existing_ticket_adds_to_its_document(admin, account):
    first = ingest_message(account=account, normalized=inbound("x-1", "Despre o canapea.", thread="xt"))
    ingest_many(account=account, items=[Inbound(inbound("x-2", "Și despre un fotoliu.", thread="xt"))])

    assert found(admin, "canapea fotoliu") == [first.ticket_id]


def test_agent_replies_and_internal_notes_are_found():
    admin = UserFactory(username="fresh-admin-2", role="admin")
    ticket = a_ticket(text="Hello")

    actions.add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, author_user=admin,
                        body_text="We have shipped a replacement toaster.")
    actions.add_message(ticket=ticket, direction=Message.Direction.NOTE, author_user=admin,
                        body_text="Supplier confirmed the defect batch.")

    assert found(admin, "toaster") == [ticket.pk]
    assert found(admin, "supplier defect") == [ticket.pk]


def test_a_renamed_customer_is_found_by_the_new_name_only(admin):
    ticket = a_ticket()
    customer = ticket.customer

    customer.name = "Wilhelmina Stroud"
    customer.save()

    assert found(admin, "Wilhelmina") == [ticket.pk]
    assert found(admin, "Plain Person") == []


def test_a_new_identity_of_the_customer_is_found(admin):
    ticket = a_ticket()

    ChannelIdentity.objects.create(customer=ticket.customer, kind=ChannelIdentity.Kind.WHATSAPP, value="+40722333444",
                                   display_name="Mamaie")

    assert found(admin, "0722 333 444") == [ticket.pk]
    assert found(admin, "mamaie") == [ticket.pk]


def test_a_merged_customers_tickets_are_found_by_the_surviving_customer(admin):
    ticket = a_ticket()
    survivor = CustomerFactory(name="Octavia Brindle", email="octavia@example.org")

    actions.merge_customers(source=ticket.customer, target=survivor)

    assert found(admin, "Octavia") == [ticket.pk]


def test_a_linked_order_is_found_by_its_number_until_unlinked(admin):
    ticket = a_ticket()
    order = OrderFactory(store=ticket.store, number="#777123", customer=ticket.customer)

    actions.link_order(ticket=ticket, order=order)
    assert found(admin, "777123") == [ticket.pk]

    ticket.orders.remove(order)
    assert found(admin, "777123") == []


def test_a_renumbered_order_is_found_by_its_new_number(admin):
    ticket = a_ticket()
    order = OrderFactory(store=ticket.store, number="#5001", customer=ticket.customer)
    actions.link_order(ticket=ticket, order=order)

    order.number = "#5002"
    order.save()

    assert found(admin, "5002") == [ticket.pk]
    assert found(admin, "5001") == []


def test_a_changed_subject_is_found(admin):
    ticket = a_ticket(subject="Old heading")

    Ticket.objects.filter(pk=ticket.pk).update(subject="Fresh heading about a wardrobe")

    assert found(admin, "wardrobe") == [ticket.pk]


def test_merged_tickets_messages_are_found_on_the_target(admin):
    source = a_ticket(text="The mirror is cracked.")
    target = a_ticket(text="Second ticket about the frame.")

    actions.merge_tickets(source=source, target=target)

    assert found(admin, "mirror frame") == [target.pk]
    assert source.pk not in found(admin, "mirror")


def test_an_edited_or_deleted_message_no_longer_matches(admin):
    ticket = a_ticket(text="My secret passphrase is hippopotamus.")
    message = ticket.messages.get()

    Message.objects.filter(pk=message.pk).update(body_text="[removed]")
    assert found(admin, "hippopotamus") == []

    actions.add_message(ticket=ticket, direction=Message.Direction.INBOUND, body_text="Also: rhinoceros.")
    assert found(admin, "rhinoceros") == [ticket.pk]
    ticket.messages.filter(body_text__contains="rhinoceros").delete()
    assert found(admin, "rhinoceros") == []


def test_a_deleted_ticket_takes_its_document_with_it(admin):
    ticket = a_ticket(text="Delete me, pineapple.")

    Message.objects.filter(ticket=ticket).delete()
    ticket.events.all().delete()
    Ticket.objects.filter(pk=ticket.pk).delete()

    assert not TicketSearchDocument.objects.filter(ticket_id=ticket.pk).exists()
    assert found(admin, "pineapple") == []


def test_every_ticket_has_exactly_one_document(account):
    a_ticket(text="one")
    ingest_many(account=account, items=[Inbound(inbound(f"n-{n}", f"mesaj {n}", buyer=f"n{n}", thread=f"nt-{n}"))
                                        for n in range(5)])

    with connection.cursor() as cursor:
        cursor.execute("""SELECT count(*) FROM tickets_ticket t
                          LEFT JOIN tickets_ticketsearchdocument d ON d.ticket_id = t.id WHERE d.ticket_id IS NULL""")
        assert cursor.fetchone()[0] == 0
    assert TicketSearchDocument.objects.count() == Ticket.objects.count() == 6
