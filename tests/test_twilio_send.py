"""Replies by SMS through Twilio's REST API, against a server on loopback that answers as Twilio
does (201 with the message resource, 4xx with Twilio's error JSON, 429, 5xx); replies to a number
that texted STOP are blocked with the reason."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from channels_ingest import outbound
from channels_ingest.base import TransientError
from tests.messaging_helpers import (
    PUBLIC_BASE,
    TWILIO_SID,
    TWILIO_TOKEN,
    conversation,
    twilio_account,
)
from tests.shop_helpers import Answer, ShopServer
from tests.webhook_helpers import basic_auth
from tickets.models import ChannelIdentity, Message

pytestmark = pytest.mark.django_db

SEND_PATH = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
CREATED = {"sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "status": "queued", "to": "+14133881111",
           "from": "+12028831111", "body": "Your parcel left our warehouse today.", "num_segments": "1",
           "error_code": None, "error_message": None, "api_version": "2010-04-01"}


@pytest.fixture
def api():
    with ShopServer() as server:
        yield server


def send(reply: Message) -> Message:
    outbound.send_message(reply.pk)
    return Message.objects.get(pk=reply.pk)


def test_reply_is_posted_form_encoded_with_basic_auth(api):
    api.route("POST", SEND_PATH, [Answer(201, CREATED)])
    account = twilio_account(api_base_url=api.url)
    ticket, reply = conversation(account, thread="+14133881111")

    reply = send(reply)

    assert (reply.delivery_state, reply.external_id) == ("sent", CREATED["sid"])
    assert reply.metadata["to"] == "+14133881111"
    [request] = api.requests
    assert request.headers["Authorization"] == basic_auth(f"{TWILIO_SID}:{TWILIO_TOKEN}")["Authorization"]
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {
        "To": ["+14133881111"], "From": ["+12028831111"], "Body": ["Your parcel left our warehouse today."],
        "StatusCallback": [f"{PUBLIC_BASE}/hooks/twilio/{account.public_id}/"]}


def test_reply_through_a_messaging_service(api):
    api.route("POST", SEND_PATH, [Answer(201, CREATED)])
    account = twilio_account(api_base_url=api.url, messaging_service_sid="MGdb23ec0f89ee2632e46e91d8128f5e2b")
    ticket, reply = conversation(account, thread="+14133881111")
    send(reply)
    fields = parse_qs(api.requests[0].body.decode())
    assert fields["MessagingServiceSid"] == ["MGdb23ec0f89ee2632e46e91d8128f5e2b"] and "From" not in fields


def test_reply_to_an_opted_out_number_is_blocked(api):
    api.route("POST", SEND_PATH, [Answer(201, CREATED)])
    account = twilio_account(api_base_url=api.url)
    ticket, reply = conversation(account, thread="+14133881111")
    ChannelIdentity.objects.create(customer=ticket.customer, kind="phone", value="+14133881111",
                                   opted_out_at=timezone.now())

    reply = send(reply)

    assert reply.delivery_state == "failed"
    assert reply.failure_reason.startswith("Not sent: the customer texted STOP on ")
    assert api.requests == []


def test_unsubscribed_answer_fails_the_reply_and_marks_the_number(api):
    api.route("POST", SEND_PATH, [Answer(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                                               "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400})])
    account = twilio_account(api_base_url=api.url)
    ticket, reply = conversation(account, thread="+14133881111")
    ChannelIdentity.objects.create(customer=ticket.customer, kind="phone", value="+14133881111")

    reply = send(reply)

    assert reply.delivery_state == "failed"
    assert reply.failure_reason == "Twilio answered HTTP 400: Attempt to send to unsubscribed recipient (error 21610)"
    assert ChannelIdentity.objects.get(kind="phone", value="+14133881111").opted_out_at is not None


def test_wrong_credentials_fail_the_reply(api):
    api.route("POST", SEND_PATH, [Answer(401, {"code": 20003, "message": "Authenticate", "status": 401})])
    account = twilio_account(api_base_url=api.url)
    ticket, reply = conversation(account, thread="+14133881111")
    assert send(reply).failure_reason == "Twilio answered HTTP 401: Authenticate (error 20003)"


@pytest.mark.parametrize("answer", [
    Answer(429, {"code": 20429, "message": "Too Many Requests", "status": 429}),
    Answer(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"}),
])
def test_rate_limit_and_server_errors_are_retried(api, answer):
    api.route("POST", SEND_PATH, [answer, Answer(201, CREATED)])
    account = twilio_account(api_base_url=api.url)
    ticket, reply = conversation(account, thread="+14133881111")
    with pytest.raises(TransientError):
        outbound.send_message(reply.pk)
    assert Message.objects.get(pk=reply.pk).delivery_state == "queued"
    assert send(reply).delivery_state == "sent"
