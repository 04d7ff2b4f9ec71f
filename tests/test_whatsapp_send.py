"""Replies on WhatsApp through the Cloud API, against a Graph server on loopback: text inside the
24-hour customer-service window; outside it the configured template, or blocked with the reason."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from channels_ingest import outbound
from channels_ingest.base import TransientError
from tests.messaging_helpers import WA_TOKEN, conversation, meta_account
from tests.shop_helpers import Answer, ShopServer
from tickets.models import Message

pytestmark = pytest.mark.django_db

PHONE_NUMBER_ID = "1122334455667"
SEND_PATH = f"/v21.0/{PHONE_NUMBER_ID}/messages"
ACCEPTED = {"messaging_product": "whatsapp", "contacts": [{"input": "972987654321", "wa_id": "972987654321"}],
            "messages": [{"id": "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]}


@pytest.fixture
def graph():
    with ShopServer() as server:
        yield server


def account_for(graph, **settings):
    return meta_account("whatsapp", external_id=PHONE_NUMBER_ID, graph_base_url=graph.url, **settings)


def send(reply: Message) -> Message:
    outbound.send_message(reply.pk)
    return Message.objects.get(pk=reply.pk)


def test_reply_inside_the_window_is_a_text_message(graph):
    graph.route("POST", SEND_PATH, [Answer(200, ACCEPTED)])
    ticket, reply = conversation(account_for(graph), thread="972987654321", customer_wrote_ago=timedelta(hours=20))

    reply = send(reply)

    assert (reply.delivery_state, reply.external_id) == ("sent", ACCEPTED["messages"][0]["id"])
    [request] = graph.requests
    assert request.headers["Authorization"] == f"Bearer {WA_TOKEN}"
    assert json.loads(request.body) == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "972987654321", "type": "text",
        "text": {"body": "Your parcel left our warehouse today.", "preview_url": False}}


def test_reply_outside_the_window_uses_the_configured_template(graph):
    graph.route("POST", SEND_PATH, [Answer(200, ACCEPTED)])
    account = account_for(graph, template_name="support_reply", template_language="es")
    ticket, reply = conversation(account, thread="972987654321", customer_wrote_ago=timedelta(hours=30))

    reply = send(reply)

    assert reply.delivery_state == "sent"
    body = json.loads(graph.requests[0].body)
    assert body["type"] == "template"
    assert body["template"] == {"name": "support_reply", "language": {"code": "es"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "Your parcel left our warehouse today."}]}]}


def test_reply_outside_the_window_without_a_template_is_blocked(graph):
    ticket, reply = conversation(account_for(graph), thread="972987654321", customer_wrote_ago=timedelta(hours=30))

    reply = send(reply)

    assert reply.delivery_state == "failed"
    assert "24-hour reply window of WhatsApp closed at" in reply.failure_reason
    assert graph.requests == []


def test_reply_to_a_business_scoped_user_id(graph):
    graph.route("POST", SEND_PATH, [Answer(200, ACCEPTED)])
    ticket, reply = conversation(account_for(graph), thread="US.1234")
    send(reply)
    body = json.loads(graph.requests[0].body)
    assert body["recipient"] == "US.1234" and "to" not in body


def test_cloud_api_error_fails_the_reply_with_its_text(graph):
    graph.route("POST", SEND_PATH, [Answer(400, {"error": {
        "message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
        "error_data": {"messaging_product": "whatsapp",
                       "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
        "fbtrace_id": "A1b2C3"}})])
    ticket, reply = conversation(account_for(graph), thread="972987654321")

    reply = send(reply)

    assert reply.delivery_state == "failed"
    assert reply.failure_reason.startswith("Meta answered HTTP 400: (#131047) Re-engagement message: Message failed")
    assert reply.failure_reason.endswith("(code 131047)")


@pytest.mark.parametrize("answer", [
    Answer(429, {"error": {"message": "(#130429) Rate limit hit", "code": 130429}}),
    Answer(500, {"error": {"message": "An unknown error occurred", "code": 1}}),
])
def test_throttling_and_server_errors_are_retried(graph, answer):
    graph.route("POST", SEND_PATH, [answer, Answer(200, ACCEPTED)])
    ticket, reply = conversation(account_for(graph), thread="972987654321")
    with pytest.raises(TransientError):
        outbound.send_message(reply.pk)
    assert Message.objects.get(pk=reply.pk).delivery_state == "queued"
    assert send(reply).delivery_state == "sent"
