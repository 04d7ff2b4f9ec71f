"""The handoff from the bot to a person: the customer, a chat ticket holding the whole transcript, the
order the visitor proved, the automation rules; then the visitor's messages go straight into that ticket."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from channels_ingest.widget import conversations
from channels_ingest.widget.models import WidgetConversation
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ShipmentFactory,
    TagFactory,
)
from tests.widget_helpers import clear_widget_counters, make_widget
from tickets.models import (
    AutomationRule,
    Channel,
    ChannelIdentity,
    Customer,
    Message,
    Ticket,
    TicketEvent,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters():
    clear_widget_counters()
    yield
    clear_widget_counters()


@pytest.fixture
def widget():
    return make_widget()


@pytest.fixture
def order(widget):
    customer = CustomerFactory(name="Marta Gil", email="marta.gil@correo.example")
    order = OrderFactory(store=widget.store, customer=customer, number="#1001", marketplace=Channel.SHOPIFY)
    OrderLineFactory(order=order, title="Lámpara de cerámica", quantity=2)
    ShipmentFactory(order=order, carrier="Correos", tracking_number="PQ4F5R0000001",
                    tracking_url="https://www.correos.es/track?n=PQ4F5R0000001")
    return order


def talk(conversation, *texts):
    """The visitor writes each text; returns the events of the last one."""
    said = None
    for index, text in enumerate(texts):
        conversation.refresh_from_db()
        said = conversations.visitor_says(conversation, text, client_id=f"c{len(conversation.transcript)}-{index}",
                                          now=timezone.now())
    conversation.refresh_from_db()
    return said


def test_order_status_then_a_person_hands_over_everything(widget, order):
    conversation, _token = conversations.start_conversation(widget)
    said = talk(conversation, "Where is my order #1001?", "marta.gil@correo.example")
    answer_texts = [event["message"]["text"] for event in said.events if event["type"] == "message"]
    assert any("Correos" in text and "PQ4F5R0000001" in text for text in answer_texts)
    assert conversation.ticket is None and conversation.order == order

    said = talk(conversation, "I want to talk to a person")
    assert said.handed_off and {"type": "handoff", "email": "marta.gil@correo.example"} in said.events
    ticket = conversation.ticket
    assert (ticket.channel, ticket.channel_account, ticket.store) == (Channel.CHAT, widget.account, widget.store)
    assert ticket.external_thread_id == conversation.visitor_key
    assert ticket.subject == "Where is my order #1001?"
    # The customer is the order's: known by the email they proved, now also by their chat id.
    assert ticket.customer == order.customer
    assert ChannelIdentity.objects.filter(customer=order.customer, kind=ChannelIdentity.Kind.CHAT_VISITOR,
                                          value=conversation.visitor_key, account=widget.account).exists()
    assert list(ticket.orders.all()) == [order]
    # Every line, in order, as said: the visitor's as the customer's, the bot's as the bot's.
    messages = list(ticket.messages.order_by("created_at", "pk"))
    assert [m.body_text for m in messages] == [line["text"] for line in conversation.transcript]
    assert [(m.direction, m.author_type) for m in messages if m.body_text.startswith(("Where", "marta", "I want"))] == [
        (Message.Direction.INBOUND, Message.AuthorType.CUSTOMER)] * 3
    bot_lines = [m for m in messages if m.author_type == Message.AuthorType.BOT]
    assert bot_lines and all(m.direction == Message.Direction.OUTBOUND and m.is_auto_reply for m in bot_lines)
    assert all(m.delivery_state == Message.DeliveryState.DELIVERED for m in bot_lines)
    assert messages[0].created_at == dt.datetime.fromisoformat(conversation.transcript[0]["at"])
    # The bot answered, but nobody from the team yet: no first response, the ticket is new.
    assert ticket.first_response_at is None and ticket.status == Ticket.Status.NEW
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ORDER_LINKED).count() == 1


def test_after_the_handoff_the_visitors_messages_join_the_ticket(widget):
    conversation, _token = conversations.start_conversation(widget)
    talk(conversation, "Hello", "talk to a person")
    ticket = conversation.ticket
    before = ticket.messages.count()
    said = talk(conversation, "The lamp arrived broken")
    message = ticket.messages.order_by("-pk").first()
    assert ticket.messages.count() == before + 1
    assert (message.direction, message.body_text, message.channel) == (
        Message.Direction.INBOUND, "The lamp arrived broken", Channel.CHAT)
    assert message.external_thread_id == conversation.visitor_key
    client_id = message.external_id.rpartition(":")[2]
    assert said.events == [{"type": "message", "message": conversations.public_message(message, client_id=client_id)}]
    # Sending the same message again (a reconnect) stores it once.
    conversations.visitor_says(conversation, "The lamp arrived broken", client_id=client_id)
    assert ticket.messages.count() == before + 1


def test_new_visitor_without_an_order_becomes_a_new_customer_with_their_email(widget):
    conversation, _token = conversations.start_conversation(widget, language="es")
    # The shop page asked for Spanish (…/widget/<key>.js?lang=es): the bot keeps to it.
    conversations.visitor_says(conversation, "Hola", client_id="h", language="es")
    conversations.set_visitor_email(conversation, "nuevo@correo.example")
    talk(conversation, "quiero hablar con una persona")
    customer = conversation.ticket.customer
    assert customer.email == "nuevo@correo.example"
    kinds = set(customer.identities.values_list("kind", "value"))
    assert kinds == {(ChannelIdentity.Kind.CHAT_VISITOR, conversation.visitor_key),
                     (ChannelIdentity.Kind.EMAIL, "nuevo@correo.example")}
    assert conversation.ticket.language == "es"
    assert conversation.transcript[1]["text"] != conversation.transcript[0]["text"]


def test_an_address_typed_in_the_chat_does_not_open_a_known_customers_file(widget):
    known = CustomerFactory(name="Ana Pop", email="ana@correo.example")
    ChannelIdentity.objects.create(customer=known, kind=ChannelIdentity.Kind.EMAIL, value="ana@correo.example")
    OrderFactory(store=widget.store, customer=known, number="#2002")
    conversation, _token = conversations.start_conversation(widget)
    conversations.visitor_says(conversation, "hi", client_id="a")
    conversation.refresh_from_db()
    conversations.set_visitor_email(conversation, "ana@correo.example")
    talk(conversation, "talk to a person")
    customer = conversation.ticket.customer
    # Anyone can type Ana's address: the chat is not filed under Ana, nor given her orders.
    assert customer != known and customer.email == "ana@correo.example"
    assert list(conversation.ticket.orders.all()) == []
    assert ChannelIdentity.objects.get(kind=ChannelIdentity.Kind.EMAIL, value="ana@correo.example").customer == known
    assert Customer.objects.count() == 2


def test_the_order_proven_in_the_chat_files_the_visitor_under_its_customer(widget, order):
    conversation, _token = conversations.start_conversation(widget)
    talk(conversation, "Where is my order #1001?", "marta.gil@correo.example", "talk to a person")
    assert conversation.ticket.customer == order.customer
    assert Customer.objects.count() == 1


def test_handoff_runs_the_automation_rules(widget):
    tag = TagFactory(name="chat")
    rule = AutomationRule.objects.create(name="Chats are tagged", channels=[Channel.CHAT], on_ticket_created=True)
    rule.add_tags.add(tag)
    conversation, _token = conversations.start_conversation(widget)
    talk(conversation, "talk to a person")
    ticket = conversation.ticket
    assert list(ticket.tags.values_list("name", flat=True)) == ["chat"]
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.RULE_APPLIED).count() == 1


def test_handoff_happens_once(widget):
    conversation, _token = conversations.start_conversation(widget)
    talk(conversation, "talk to a person")
    first = conversation.ticket
    assert conversations.hand_off(conversation) == first
    assert Ticket.objects.count() == 1
    assert WidgetConversation.objects.get().ticket == first


def test_out_of_hours_the_bot_keeps_asking_for_an_email_inside_the_ticket(widget):
    from tickets.sla.presets import make_calendar

    widget.calendar = make_calendar("Never open", time_zone="Europe/Madrid", hours={})
    widget.save()
    conversation, _token = conversations.start_conversation(widget)
    said = talk(conversation, "talk to a person")
    ticket = conversation.ticket
    assert ticket is not None and {"type": "ask_email"} in said.events
    said = talk(conversation, "It's about a broken lamp")
    assert conversation.visitor_email == ""
    # Still asking: the visitor's words went to the ticket, the bot said nothing more.
    assert [event["message"]["text"] for event in said.events if event["type"] == "message"] == [
        "It's about a broken lamp"]
    said = talk(conversation, "my address is ana.pop@correo.example")
    conversation.refresh_from_db()
    assert conversation.visitor_email == "ana.pop@correo.example"
    bot_reply = ticket.messages.order_by("-pk").first()
    assert bot_reply.author_type == Message.AuthorType.BOT and "ana.pop@correo.example" in bot_reply.body_text
    assert [event["message"]["from"] for event in said.events if event["type"] == "message"] == ["visitor", "bot"]
    assert ticket.customer.identities.filter(kind=ChannelIdentity.Kind.EMAIL, value="ana.pop@correo.example").exists()
    ticket.refresh_from_db()
    assert ticket.first_response_at is None


def test_the_conversation_takes_the_language_the_visitor_writes_in():
    widget = make_widget("tienda", language="")  # no language set: the store's, until the visitor writes
    widget.store.default_language = "en"
    widget.store.save()
    conversation, _token = conversations.start_conversation(widget)
    talk(conversation, "¿Dónde está mi pedido?")
    assert conversation.language == "es"
    talk(conversation, "quiero hablar con una persona")
    assert conversation.ticket.language == "es"


def test_abandoned_bot_conversations_are_forgotten_but_handed_off_ones_stay(widget):
    old = timezone.now() - dt.timedelta(days=31)
    abandoned, _token = conversations.start_conversation(widget)
    conversations.visitor_says(abandoned, "hello", client_id="a")
    recent, _token = conversations.start_conversation(widget)
    conversations.visitor_says(recent, "hello", client_id="b")
    handed, _token = conversations.start_conversation(widget)
    talk(handed, "talk to a person")
    WidgetConversation.objects.filter(pk__in=[abandoned.pk, handed.pk]).update(last_seen_at=old)

    assert conversations.forget_abandoned() == 1
    assert set(WidgetConversation.objects.values_list("pk", flat=True)) == {recent.pk, handed.pk}
    assert handed.ticket.messages.count() > 0


def test_after_a_file_handed_the_chat_over_the_bot_stays_quiet(widget):
    from channels_ingest.base import InboundAttachment

    conversation, _token = conversations.start_conversation(widget)
    talk(conversation, "Hello")
    photo = InboundAttachment(filename="lamp.png", content_type="image/png", content=b"\x89PNG\r\n\x1a\n0000")
    said = conversations.visitor_says(conversation, "", client_id="file", attachments=[photo])
    assert said.handed_off
    said = talk(conversation, "asdf qwerty")
    assert [event["message"]["from"] for event in said.events] == ["visitor"]
    assert conversation.ticket.messages.filter(author_type=Message.AuthorType.BOT).count() == 1  # the greeting's answer
