"""The visitor's WebSocket, through the product's ASGI application and the real Redis channel layer:
origins, tokens that only open their own conversation, replay after a reload, size and rate limits,
and nothing of the agents' side on the visitor's socket."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync

from channels_ingest.widget.models import WidgetConversation, hash_token
from tests.factories import UserFactory
from tests.widget_helpers import (
    SHOP,
    clear_widget_counters,
    make_widget,
    say,
    visitor_socket,
)
from tickets import actions
from tickets.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_counters():
    clear_widget_counters()
    yield
    clear_widget_counters()


def run(scenario):
    return async_to_sync(scenario)()


# --- Origins ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["https://evil.example", "http://shop.casalumbre.example", None,
                                    "https://shop.casalumbre.example.evil.example"])
def test_socket_from_an_origin_the_store_does_not_allow_is_refused(origin):
    widget = make_widget()

    async def scenario():
        communicator = visitor_socket(widget, origin=origin)
        return await communicator.connect()

    assert run(scenario) == (False, 4403)
    assert WidgetConversation.objects.count() == 0


def test_subdomains_are_allowed_by_a_wildcard_origin():
    widget = make_widget(origins="https://*.casalumbre.example\nhttps://other.example")

    async def scenario():
        results = []
        for origin in ("https://tienda.casalumbre.example", "https://other.example", "https://casalumbre.example"):
            communicator = visitor_socket(widget, origin=origin)
            connected, _code = await communicator.connect()
            results.append(connected)
            if connected:
                await communicator.disconnect()
        return results

    assert run(scenario) == [True, True, False]


def test_disabled_or_unknown_widget_refuses_the_socket():
    widget = make_widget()
    widget.enabled = False
    widget.save()

    async def scenario():
        return await visitor_socket(widget).connect()

    assert run(scenario) == (False, 4404)


# --- Conversations and tokens ---------------------------------------------------------------------


def test_first_message_starts_a_conversation_whose_token_is_stored_hashed():
    widget = make_widget()

    async def scenario():
        communicator = visitor_socket(widget)
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"type": "hello"})
        ready = await communicator.receive_json_from(timeout=5)
        frames = await say(communicator, "Hello", "c-1")
        await communicator.disconnect()
        return ready, frames

    ready, frames = run(scenario)
    assert ready["type"] == "ready" and ready["conversation"] is False and ready["messages"] == []
    assert ready["greeting"]
    token = frames[0]["token"]
    assert frames[0]["type"] == "token" and len(token) >= 40
    conversation = WidgetConversation.objects.get()
    assert conversation.token_hash == hash_token(token) and token not in conversation.token_hash
    visitor_line = frames[1]["message"]
    assert (visitor_line["from"], visitor_line["text"], visitor_line["client_id"]) == ("visitor", "Hello", "c-1")
    assert [frame["message"]["from"] for frame in frames[2:] if frame["type"] == "message"] == ["bot"]
    assert conversation.transcript[0]["text"] == "Hello"


def _start(widget, text="Where is my order?", client="198.51.100.7"):
    async def scenario():
        communicator = visitor_socket(widget, client=client)
        await communicator.connect()
        await communicator.send_json_to({"type": "hello"})
        await communicator.receive_json_from(timeout=5)
        frames = await say(communicator, text, "first")
        await communicator.disconnect()
        return frames[0]["token"]

    return run(scenario)


def _hello(widget, token, origin=SHOP):
    async def scenario():
        communicator = visitor_socket(widget, origin=origin)
        await communicator.connect()
        await communicator.send_json_to({"type": "hello", "token": token})
        ready = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return ready

    return run(scenario)


def test_reload_replays_the_conversation():
    widget = make_widget()
    token = _start(widget)
    ready = _hello(widget, token)
    conversation = WidgetConversation.objects.get()
    assert ready["conversation"] is True
    assert [message["text"] for message in ready["messages"]] == [line["text"] for line in conversation.transcript]
    assert ready["messages"][0]["from"] == "visitor" and ready["messages"][0]["client_id"] == "first"


def test_a_token_opens_only_its_own_conversation():
    widget = make_widget()
    other_store_widget = make_widget("atelier-carpati", origins=SHOP)
    token_a = _start(widget, "Where is my order 1001?", client="198.51.100.1")
    token_b = _start(widget, "Do you ship to Romania?", client="198.51.100.2")

    seen_by_b = _hello(widget, token_b)
    assert "1001" not in json.dumps(seen_by_b)
    assert seen_by_b["messages"][0]["text"] == "Do you ship to Romania?"
    # A made-up token, a hash of a real one, or a real one on another store's widget: nothing.
    conversation_a = WidgetConversation.objects.get(token_hash=hash_token(token_a))
    for token, on in (("x" * 43, widget), (conversation_a.token_hash, widget), (token_a, other_store_widget)):
        ready = _hello(on, token)
        assert ready["conversation"] is False and ready["messages"] == [] and ready["reset"] is True


def test_one_visitors_events_never_reach_another_visitors_socket():
    widget = make_widget()
    token_a = _start(widget, client="198.51.100.1")

    async def scenario():
        visitor_a = visitor_socket(widget)
        await visitor_a.connect()
        await visitor_a.send_json_to({"type": "hello", "token": token_a})
        await visitor_a.receive_json_from(timeout=5)
        visitor_b = visitor_socket(widget, client="198.51.100.2")
        await visitor_b.connect()
        await visitor_b.send_json_to({"type": "hello"})
        await visitor_b.receive_json_from(timeout=5)
        await say(visitor_b, "My secret order 7731", "b-1")
        quiet = await visitor_a.receive_nothing(timeout=1)
        await visitor_a.disconnect()
        await visitor_b.disconnect()
        return quiet

    assert run(scenario) is True


# --- Limits --------------------------------------------------------------------------------------


def test_too_long_message_is_refused_and_not_stored(settings):
    settings.HELPDESK_WIDGET_MAX_MESSAGE_CHARS = 50
    widget = make_widget()

    async def scenario():
        communicator = visitor_socket(widget)
        await communicator.connect()
        await communicator.send_json_to({"type": "hello"})
        await communicator.receive_json_from(timeout=5)
        frames = await say(communicator, "x" * 51, "long")
        await communicator.send_to(text_data=json.dumps({"type": "message", "text": "y" * 20000}))
        frame_error = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return frames, frame_error

    frames, frame_error = run(scenario)
    assert frames == [{"type": "error", "code": "too_long", "limit": 50,
                       "message": "The message is too long: at most 50 characters."}]
    assert frame_error["code"] == "too_long"
    assert WidgetConversation.objects.count() == 0


def test_messages_over_the_rate_limit_are_refused_with_the_wait(settings):
    settings.HELPDESK_WIDGET_RATE_LIMITS = {"message": (3, 60)}
    widget = make_widget()

    async def scenario():
        communicator = visitor_socket(widget)
        await communicator.connect()
        await communicator.send_json_to({"type": "hello"})
        await communicator.receive_json_from(timeout=5)
        for number in range(3):
            await say(communicator, f"hello {number}", f"c{number}")
        refused = await say(communicator, "hello again", "c4")
        await communicator.disconnect()
        return refused

    refused = run(scenario)
    assert len(refused) == 1 and refused[0]["code"] == "rate_limited"
    assert 1 <= refused[0]["retry_after"] <= 60
    assert "Please wait" in refused[0]["message"]
    lines = WidgetConversation.objects.get().transcript
    assert [line["text"] for line in lines if line["who"] == "visitor"] == ["hello 0", "hello 1", "hello 2"]


def test_new_conversations_per_address_are_limited(settings):
    settings.HELPDESK_WIDGET_RATE_LIMITS = {"conversation": (2, 3600)}
    widget = make_widget()
    _start(widget, client="192.0.2.9")
    _start(widget, client="192.0.2.9")

    async def scenario():
        communicator = visitor_socket(widget, client="192.0.2.9")
        await communicator.connect()
        await communicator.send_json_to({"type": "hello"})
        await communicator.receive_json_from(timeout=5)
        frames = await say(communicator, "third", "c3")
        await communicator.disconnect()
        return frames

    frames = run(scenario)
    assert [frame["code"] for frame in frames] == ["rate_limited"]
    assert WidgetConversation.objects.count() == 2


def test_error_messages_are_in_the_widgets_language(settings):
    settings.HELPDESK_WIDGET_MAX_MESSAGE_CHARS = 10
    widget = make_widget(language="es")

    async def scenario():
        communicator = visitor_socket(widget)
        await communicator.connect()
        await communicator.send_json_to({"type": "hello"})
        await communicator.receive_json_from(timeout=5)
        frames = await say(communicator, "demasiado largo para esto", "c")
        await communicator.disconnect()
        return frames

    from django.utils import translation
    from django.utils.translation import gettext

    with translation.override("es"):
        expected = gettext("The message is too long: at most %(limit)s characters.") % {"limit": 10}
    assert run(scenario)[0]["message"] == expected


# --- Nothing of the agents' side -----------------------------------------------------------------------


def test_visitor_sees_replies_by_first_name_and_never_notes_or_addresses():
    widget = make_widget()
    token = _start(widget, "I want to talk to a person")
    conversation = WidgetConversation.objects.get()
    assert conversation.ticket is not None
    agent = UserFactory(username="lucia", first_name="Lucía", last_name="Fernández", email="lucia@staff.example",
                        role="agent")
    ticket = conversation.ticket
    actions.add_message(ticket=ticket, direction=Message.Direction.NOTE, body_text="VIP, check fraud score",
                        author_user=agent)
    reply = actions.add_message(ticket=ticket, direction=Message.Direction.OUTBOUND, body_text="Hola, te ayudo",
                                author_user=agent, delivery_state=Message.DeliveryState.SENT)
    # Another conversation's ticket of the same store.
    _start(widget, "I want to talk to a person", client="198.51.100.99")
    other = WidgetConversation.objects.exclude(pk=conversation.pk).get()
    actions.add_message(ticket=other.ticket, direction=Message.Direction.OUTBOUND, body_text="Other visitor's reply",
                        author_user=agent, delivery_state=Message.DeliveryState.SENT)

    ready = _hello(widget, token)
    dumped = json.dumps(ready, ensure_ascii=False)
    assert "fraud" not in dumped and "lucia@staff.example" not in dumped and "Fernández" not in dumped
    assert "Other visitor" not in dumped
    last = ready["messages"][-1]
    assert last == {"id": f"m{reply.pk}", "from": "agent", "author": "Lucía", "text": "Hola, te ayudo",
                    "at": reply.created_at.isoformat(), "attachments": []}


def test_socket_ignores_frames_before_hello_and_unknown_types():
    widget = make_widget()

    async def scenario():
        communicator = visitor_socket(widget)
        await communicator.connect()
        await communicator.send_json_to({"type": "message", "text": "hi"})
        before_hello = await communicator.receive_json_from(timeout=5)
        await communicator.send_to(text_data="not json")
        garbage = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return before_hello, garbage

    before_hello, garbage = run(scenario)
    assert before_hello["code"] == "hello_first" and garbage["code"] == "invalid"
    assert WidgetConversation.objects.count() == 0


def test_email_given_in_the_chat_is_kept_for_replies():
    widget = make_widget()
    token = _start(widget)

    async def scenario():
        communicator = visitor_socket(widget)
        await communicator.connect()
        await communicator.send_json_to({"type": "hello", "token": token})
        await communicator.receive_json_from(timeout=5)
        await communicator.send_json_to({"type": "email", "email": "not an address"})
        bad = await communicator.receive_json_from(timeout=5)
        await communicator.send_json_to({"type": "email", "email": " Marta.Gil@Correo.example "})
        good = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return bad, good

    bad, good = run(scenario)
    assert bad["code"] == "invalid_email"
    assert good == {"type": "email_saved", "email": "marta.gil@correo.example"}
    assert WidgetConversation.objects.get().visitor_email == "marta.gil@correo.example"
