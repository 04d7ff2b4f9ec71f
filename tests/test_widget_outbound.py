"""Agents' replies on chat tickets, through the outbound road (`channels_ingest.outbound.send_message`
with the "chat" adapter): pushed live to the visitor's socket with delivery states from the widget's
acknowledgements, kept for a visitor who comes back, and sent by email (real SMTP on loopback) to a
visitor who left an address and went away. Typing both ways."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from channels_ingest import outbound
from channels_ingest.base import TransientError
from channels_ingest.widget import conversations, limits
from channels_ingest.widget.outbound import notify_visitor_typing
from tests.factories import MessageFactory, UserFactory
from tests.test_email_send import mailbox_account, smtp_server  # noqa: F401 (the fixture)
from tests.widget_helpers import clear_widget_counters, make_widget, visitor_socket
from tickets.events import ticket_group
from tickets.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_counters():
    clear_widget_counters()
    yield
    clear_widget_counters()


@pytest.fixture
def chat(db):
    """A handed-off conversation: (widget, conversation, token)."""
    widget = make_widget()
    conversation, token = conversations.start_conversation(widget)
    conversations.visitor_says(conversation, "I want to talk to a person", client_id="c1")
    conversation.refresh_from_db()
    assert conversation.ticket_id is not None
    return widget, conversation, token


def agent_reply(conversation, text="Hola Marta, ya lo miro.") -> Message:
    """The agent's reply as the reply action leaves it: queued, on the chat account."""
    agent = UserFactory(username="lucia", first_name="Lucía", role="agent")
    ticket = conversation.ticket
    return MessageFactory(
        ticket=ticket, channel_account=ticket.channel_account, direction=Message.Direction.OUTBOUND,
        author_type=Message.AuthorType.AGENT, author_user=agent, author_customer=None, body_text=text,
        delivery_state=Message.DeliveryState.QUEUED, external_thread_id=ticket.external_thread_id,
    )


async def open_chat(widget, token):
    communicator = visitor_socket(widget)
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "hello", "token": token})
    ready = await communicator.receive_json_from(timeout=5)
    assert ready["conversation"] is True
    return communicator, ready


def test_reply_reaches_the_open_widget_and_its_acknowledgements_move_it(chat):
    widget, conversation, token = chat
    reply = agent_reply(conversation)

    async def scenario():
        communicator, _ready = await open_chat(widget, token)
        await sync_to_async(outbound.send_message)(reply.pk)
        pushed = await communicator.receive_json_from(timeout=5)
        state_after_push = await sync_to_async(lambda: Message.objects.get(pk=reply.pk).delivery_state)()
        await communicator.send_json_to({"type": "ack", "ids": [pushed["message"]["id"]], "state": "delivered"})
        await communicator.send_json_to({"type": "ping"})
        await communicator.receive_json_from(timeout=5)  # pong: the ack was handled before it
        delivered = await sync_to_async(lambda: Message.objects.get(pk=reply.pk).delivery_state)()
        await communicator.send_json_to({"type": "ack", "ids": [pushed["message"]["id"]], "state": "read"})
        await communicator.send_json_to({"type": "ping"})
        await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return pushed, state_after_push, delivered

    pushed, state_after_push, delivered = async_to_sync(scenario)()
    assert pushed == {"type": "message", "message": {
        "id": f"m{reply.pk}", "from": "agent", "author": "Lucía", "text": "Hola Marta, ya lo miro.",
        "at": reply.created_at.isoformat(), "attachments": []}}
    assert (state_after_push, delivered) == ("sent", "delivered")
    reply.refresh_from_db()
    assert reply.delivery_state == "read" and reply.metadata["via"] == "chat"


def test_acknowledgements_of_other_messages_change_nothing(chat):
    widget, conversation, token = chat
    other_widget_conversation, _other_token = conversations.start_conversation(widget)
    conversations.visitor_says(other_widget_conversation, "talk to a person", client_id="x")
    other_widget_conversation.refresh_from_db()
    foreign = agent_reply(other_widget_conversation)
    foreign.delivery_state, foreign.external_id = Message.DeliveryState.SENT, f"chat-out-{foreign.pk}"
    foreign.save()

    async def scenario():
        communicator, _ready = await open_chat(widget, token)
        await communicator.send_json_to({"type": "ack", "ids": [f"m{foreign.pk}", "m0", 5, "junk"], "state": "read"})
        await communicator.send_json_to({"type": "ping"})
        await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()

    async_to_sync(scenario)()
    foreign.refresh_from_db()
    assert foreign.delivery_state == Message.DeliveryState.SENT


def test_reply_to_an_absent_visitor_without_email_waits_for_them(chat):
    widget, conversation, token = chat
    reply = agent_reply(conversation, "We found your parcel.")
    outbound.send_message(reply.pk)
    reply.refresh_from_db()
    assert reply.delivery_state == Message.DeliveryState.SENT
    assert reply.metadata == {"via": "chat", "waiting_for_visitor": True}

    async def scenario():
        communicator, ready = await open_chat(widget, token)
        await communicator.send_json_to({"type": "ack", "ids": [f"m{reply.pk}"], "state": "delivered"})
        await communicator.send_json_to({"type": "ping"})
        await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return ready

    ready = async_to_sync(scenario)()
    assert ready["messages"][-1]["text"] == "We found your parcel."
    reply.refresh_from_db()
    assert reply.delivery_state == Message.DeliveryState.DELIVERED


def test_reply_to_a_visitor_who_left_an_address_and_went_away_goes_by_email(chat, smtp_server, settings):  # noqa: F811
    settings.HELPDESK_WIDGET_EMAIL_AFTER_SECONDS = 0
    widget, conversation, token = chat
    mailbox = mailbox_account(smtp_server.port)
    mailbox.store = widget.store
    mailbox.save()
    conversations.set_visitor_email(conversation, "marta.gil@correo.example")
    reply = agent_reply(conversation, "Your parcel left today.")

    outbound.send_message(reply.pk)

    reply.refresh_from_db()
    assert reply.delivery_state == Message.DeliveryState.SENT
    assert reply.metadata["via"] == "email" and reply.metadata["to"] == "marta.gil@correo.example"
    assert reply.channel_account == widget.account  # still the chat's reply
    [mail] = smtp_server.messages
    assert smtp_server.handler.envelopes[0].rcpt_tos == ["marta.gil@correo.example"]
    assert mail["From"].addresses[0].addr_spec == "soporte@casalumbre.example"
    assert f"[#{conversation.ticket_id}]" in mail["Subject"]
    assert "Your parcel left today." in mail.get_body(("plain",)).get_content()
    # A long Message-ID may be folded onto its own line: the value then starts with a space.
    assert f"<{reply.external_id}>" == mail["Message-ID"].strip()


def test_reply_just_after_the_visitor_left_waits_before_email(chat, smtp_server, settings):  # noqa: F811
    settings.HELPDESK_WIDGET_EMAIL_AFTER_SECONDS = 600
    widget, conversation, token = chat
    mailbox = mailbox_account(smtp_server.port)
    mailbox.store = widget.store
    mailbox.save()
    conversations.set_visitor_email(conversation, "marta.gil@correo.example")
    conversations.touch(conversation.pk)
    reply = agent_reply(conversation)

    with pytest.raises(TransientError):
        outbound.send_message(reply.pk)

    reply.refresh_from_db()
    assert reply.delivery_state == Message.DeliveryState.QUEUED
    assert reply.metadata["send_attempts"] == 1
    assert smtp_server.messages == []


def test_online_visitor_gets_the_reply_live_even_with_an_email(chat, smtp_server, settings):  # noqa: F811
    settings.HELPDESK_WIDGET_EMAIL_AFTER_SECONDS = 0
    widget, conversation, token = chat
    conversations.set_visitor_email(conversation, "marta.gil@correo.example")
    reply = agent_reply(conversation)

    async def scenario():
        communicator, _ready = await open_chat(widget, token)
        await sync_to_async(outbound.send_message)(reply.pk)
        pushed = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return pushed

    assert async_to_sync(scenario)()["message"]["id"] == f"m{reply.pk}"
    assert smtp_server.messages == []
    assert not limits.visitor_online(conversation.pk)  # the socket left when it closed


def test_agent_typing_shows_in_the_widget(chat):
    widget, conversation, token = chat
    ticket = conversation.ticket

    async def scenario():
        communicator, _ready = await open_chat(widget, token)
        told = await sync_to_async(notify_visitor_typing)(ticket)
        frame = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return told, frame

    told, frame = async_to_sync(scenario)()
    assert told == 1
    assert frame == {"type": "typing", "from": "agent", "typing": True}


def test_visitor_typing_reaches_the_ticket_group(chat):
    widget, conversation, token = chat

    async def scenario():
        layer = get_channel_layer()
        agent_page = await layer.new_channel()
        await layer.group_add(ticket_group(conversation.ticket_id), agent_page)
        communicator, _ready = await open_chat(widget, token)
        await communicator.send_json_to({"type": "typing", "typing": True})
        # The group also carries the ticket's other live events (the handoff's, arriving late).
        event = await asyncio.wait_for(layer.receive(agent_page), timeout=5)
        while event["type"] != "visitor.typing":
            event = await asyncio.wait_for(layer.receive(agent_page), timeout=5)
        await communicator.disconnect()
        await layer.group_discard(ticket_group(conversation.ticket_id), agent_page)
        return event

    event = async_to_sync(scenario)()
    assert event == {"type": "visitor.typing", "ticket_id": conversation.ticket_id, "typing": True}


def test_ticket_page_can_tell_whether_the_visitor_is_there(chat):
    from channels_ingest.widget.outbound import chat_presence

    widget, conversation, token = chat
    ticket = conversation.ticket
    conversations.set_visitor_email(conversation, "marta.gil@correo.example")

    async def scenario():
        communicator, _ready = await open_chat(widget, token)
        online = await sync_to_async(chat_presence)(ticket)
        await communicator.disconnect()
        return online

    assert async_to_sync(scenario)() == {"online": True, "email": "marta.gil@correo.example"}
    assert chat_presence(ticket) == {"online": False, "email": "marta.gil@correo.example"}


def test_ticket_page_and_widget_show_each_others_typing(chat):
    """The agent's ticket page socket and the visitor's widget socket, both real: each side sees
    the other writing."""
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from helpdesk.routing import websocket_urlpatterns

    widget, conversation, token = chat
    agent = UserFactory(username="lucia-typing", first_name="Lucía", role="agent")

    async def next_of(communicator, kind):
        frame = await communicator.receive_json_from(timeout=5)
        while frame["type"] != kind:
            frame = await communicator.receive_json_from(timeout=5)
        return frame

    async def scenario():
        page = WebsocketCommunicator(
            URLRouter(websocket_urlpatterns), f"/ws/tickets/{conversation.ticket_id}/presence/"
        )
        page.scope["user"] = agent
        assert (await page.connect())[0]
        visitor, _ready = await open_chat(widget, token)
        await page.send_json_to({"type": "typing"})
        visitor_sees = await next_of(visitor, "typing")
        await visitor.send_json_to({"type": "typing", "typing": True})
        page_sees = await next_of(page, "visitor_typing")
        await page.send_json_to({"type": "typing_stopped"})
        visitor_sees_stop = await next_of(visitor, "typing")
        await visitor.disconnect()
        await page.disconnect()
        return visitor_sees, page_sees, visitor_sees_stop

    visitor_sees, page_sees, visitor_sees_stop = async_to_sync(scenario)()
    assert visitor_sees == {"type": "typing", "from": "agent", "typing": True}
    assert page_sees == {"type": "visitor_typing", "typing": True}
    assert visitor_sees_stop == {"type": "typing", "from": "agent", "typing": False}
