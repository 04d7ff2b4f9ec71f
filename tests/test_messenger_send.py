"""Replies on Messenger and Instagram through the Send API, against a server on loopback that
answers as Graph does; and Meta's 24-hour window: inside it the reply is a RESPONSE, outside it is
blocked with the reason shown on the message, or sent with the HUMAN_AGENT tag when the page has it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from channels_ingest import outbound
from channels_ingest.base import TransientError
from tests.messaging_helpers import PAGE_TOKEN, conversation, meta_account
from tests.shop_helpers import Answer, ShopServer
from tickets.models import Message

pytestmark = pytest.mark.django_db

SEND_PATH = "/v21.0/me/messages"
ACCEPTED = {"recipient_id": "5678", "message_id": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"}


@pytest.fixture
def graph():
    with ShopServer() as server:
        yield server


def send(reply: Message) -> Message:
    outbound.send_message(reply.pk)
    return Message.objects.get(pk=reply.pk)


@pytest.mark.parametrize("provider", ["messenger", "instagram"])
def test_reply_inside_the_window_is_sent_as_a_response(graph, provider):
    graph.route("POST", SEND_PATH, [Answer(200, ACCEPTED)])
    account = meta_account(provider, graph_base_url=graph.url)
    ticket, reply = conversation(account, thread="5678", customer_wrote_ago=timedelta(hours=23))

    reply = send(reply)

    assert reply.delivery_state == "sent"
    assert reply.external_id == ACCEPTED["message_id"]
    [request] = graph.requests
    assert request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert json.loads(request.body) == {"recipient": {"id": "5678"}, "messaging_type": "RESPONSE",
                                        "message": {"text": "Your parcel left our warehouse today."}}


def test_reply_outside_the_window_is_blocked_with_the_reason(graph):
    graph.route("POST", SEND_PATH, [Answer(200, ACCEPTED)])
    account = meta_account("messenger", graph_base_url=graph.url)
    ticket, reply = conversation(account, thread="5678", customer_wrote_ago=timedelta(hours=25))

    reply = send(reply)

    assert reply.delivery_state == "failed"
    assert "24-hour reply window of Messenger closed at" in reply.failure_reason
    assert graph.requests == []


def test_page_with_the_human_agent_tag_answers_for_seven_days(graph):
    graph.route("POST", SEND_PATH, [Answer(200, ACCEPTED)])
    account = meta_account("messenger", graph_base_url=graph.url, human_agent_tag=True)
    ticket, reply = conversation(account, thread="5678", customer_wrote_ago=timedelta(days=6))

    reply = send(reply)

    assert reply.delivery_state == "sent"
    body = json.loads(graph.requests[0].body)
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert reply.metadata["tag"] == "HUMAN_AGENT"


def test_human_agent_tag_ends_after_seven_days(graph):
    account = meta_account("messenger", graph_base_url=graph.url, human_agent_tag=True)
    ticket, reply = conversation(account, thread="5678", customer_wrote_ago=timedelta(days=7, hours=1))

    reply = send(reply)

    assert reply.delivery_state == "failed"
    assert "closed at" in reply.failure_reason
    assert graph.requests == []


def test_graph_error_fails_the_reply_with_metas_message(graph):
    graph.route("POST", SEND_PATH, [Answer(400, {"error": {
        "message": "(#551) This person isn't available right now.", "type": "OAuthException", "code": 551,
        "error_subcode": 1545041, "fbtrace_id": "AbCdEf"}})])
    account = meta_account("messenger", graph_base_url=graph.url)
    ticket, reply = conversation(account, thread="5678")

    reply = send(reply)

    assert reply.delivery_state == "failed"
    assert reply.failure_reason == "Meta answered HTTP 400: (#551) This person isn't available right now. (code 551)"


@pytest.mark.parametrize("answer", [
    Answer(429, {"error": {"message": "(#613) Calls to this api have exceeded the rate limit.", "code": 613}}),
    Answer(500, {"error": {"message": "An unknown error has occurred.", "code": 1}}),
    Answer(503, b"Service Unavailable"),
])
def test_rate_limit_and_server_errors_keep_the_reply_queued_for_a_retry(graph, answer):
    graph.route("POST", SEND_PATH, [answer, Answer(200, ACCEPTED)])
    account = meta_account("messenger", graph_base_url=graph.url)
    ticket, reply = conversation(account, thread="5678")

    with pytest.raises(TransientError):
        outbound.send_message(reply.pk)
    assert Message.objects.get(pk=reply.pk).delivery_state == "queued"

    assert send(reply).delivery_state == "sent"
    assert len(graph.requests) == 2


def test_account_without_a_token_fails_the_reply(graph):
    account = meta_account("messenger", graph_base_url=graph.url)
    account.set_secrets({"app_secret": "x"})
    account.save()
    ticket, reply = conversation(account, thread="5678")

    reply = send(reply)

    assert reply.delivery_state == "failed"
    assert reply.failure_reason == "The account has no page access token."


def _reply_on_messenger_from_an_email_ticket(account, *, messenger_wrote_ago, email_wrote_ago):
    """The customer wrote on Messenger (one ticket) and by email (another); the agent answers the
    email ticket on Messenger."""
    from django.utils import timezone

    from tests.factories import ChannelAccountFactory
    from tickets import actions

    messenger_ticket, _queued = conversation(account, thread="5678", customer_wrote_ago=messenger_wrote_ago)
    Message.objects.filter(ticket=messenger_ticket, direction=Message.Direction.OUTBOUND).delete()
    mailbox = ChannelAccountFactory(store=account.store, channel="email", provider="imap")
    email_ticket = actions.create_ticket(store=account.store, channel="email", channel_account=mailbox,
                                         customer=messenger_ticket.customer, subject="Order 1042")
    wrote_at = timezone.now() - email_wrote_ago
    actions.add_message(ticket=email_ticket, direction=Message.Direction.INBOUND, body_text="Any news?",
                        created_at=wrote_at)
    return actions.add_message(ticket=email_ticket, direction=Message.Direction.OUTBOUND,
                               body_text="Your parcel left our warehouse today.", channel="messenger",
                               channel_account=account, external_thread_id="5678")


def test_reply_on_messenger_from_an_email_ticket_counts_the_messenger_window(graph):
    graph.route("POST", SEND_PATH, [Answer(200, ACCEPTED)])
    account = meta_account("messenger", graph_base_url=graph.url)
    reply = _reply_on_messenger_from_an_email_ticket(
        account, messenger_wrote_ago=timedelta(hours=2), email_wrote_ago=timedelta(days=3))

    reply = send(reply)

    assert reply.delivery_state == "sent"
    [request] = graph.requests
    assert json.loads(request.body)["messaging_type"] == "RESPONSE"


def test_reply_on_messenger_from_an_email_ticket_is_blocked_when_messengers_window_closed(graph):
    graph.route("POST", SEND_PATH, [Answer(200, ACCEPTED)])
    account = meta_account("messenger", graph_base_url=graph.url)
    # The customer's email an hour ago opens no Messenger window.
    reply = _reply_on_messenger_from_an_email_ticket(
        account, messenger_wrote_ago=timedelta(hours=30), email_wrote_ago=timedelta(hours=1))

    reply = send(reply)

    assert reply.delivery_state == "failed"
    assert "24-hour reply window of Messenger closed at" in reply.failure_reason
    assert graph.requests == []
