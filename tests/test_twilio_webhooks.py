"""Twilio SMS (/hooks/twilio/<account>/): X-Twilio-Signature over the public URL (behind a proxy),
Twilio's documented test vector, every Twilio sample of the shared corpus (messages, MMS media
fetched from a server on loopback, status callbacks onto our replies), and STOP/START opt-out."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from channels_ingest.adapters.twilio.adapter import signature
from channels_ingest.models import InboundEvent
from tests.messaging_helpers import (
    PUBLIC_BASE,
    TWILIO_SID,
    TWILIO_TOKEN,
    conversation,
    post_twilio,
    twilio_account,
)
from tests.shop_helpers import Answer, ShopServer
from tests.webhook_helpers import CORPUS, basic_auth, corpus_bytes, process_stored_event
from tickets.models import ChannelIdentity, Message

pytestmark = pytest.mark.django_db

SAMPLES = "webhooks/twilio-sms/"
VECTOR = SAMPLES + "twiliodocs-signature-test-vector.txt"
CAT, DOG = b"\xff\xd8cat-picture", b"\x89PNGdog-picture"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def api():
    with ShopServer() as server:
        server.route("GET", "/cat.jpg", [Answer(200, CAT, {"Content-Type": "image/jpeg"})])
        server.route("GET", "/dog.jpg", [Answer(200, DOG, {"Content-Type": "image/png"})])
        yield server


@pytest.fixture
def account(api):
    return twilio_account(api_base_url=api.url)


def deliver(client, account, name: str):
    return process_stored_event(post_twilio(client, account, corpus_bytes(SAMPLES + name)))


# --- signatures ----------------------------------------------------------------------------------


def test_documented_test_vector_verifies():
    headers = json.loads((CORPUS / SAMPLES / "twiliodocs-signature-test-vector.headers.json").read_text())
    params = parse_qsl(corpus_bytes(VECTOR).decode(), keep_blank_values=True)
    assert signature(headers["_request_url"], params, headers["_auth_token"]) == headers["X-Twilio-Signature"]
    assert signature(headers["_request_url"], params, "54321") != headers["X-Twilio-Signature"]


def test_documented_test_vector_is_accepted_by_the_webhook(client):
    headers = json.loads((CORPUS / SAMPLES / "twiliodocs-signature-test-vector.headers.json").read_text())
    account = twilio_account(signature_url=headers["_request_url"])
    account.set_secrets({"account_sid": TWILIO_SID, "auth_token": headers["_auth_token"]})
    account.save()
    response = post_twilio(client, account, corpus_bytes(VECTOR), signature=headers["X-Twilio-Signature"])
    event, messages = process_stored_event(response)
    # A voice call's parameters: authentic, but nothing to thread.
    assert event.state == InboundEvent.State.IGNORED
    assert event.result["reason"] == "not a Twilio message (a voice call)"


def test_signature_over_the_public_url_is_accepted_behind_a_proxy(client, account):
    body = corpus_bytes(SAMPLES + "courier-inbound-sms.txt")
    path = f"/hooks/twilio/{account.public_id}/"
    params = parse_qsl(body.decode(), keep_blank_values=True)
    # What this server sees (http://testserver/...) is not what Twilio signed (the proxy's https URL).
    seen_here = signature("http://testserver" + path, params, TWILIO_TOKEN)
    assert post_twilio(client, account, body, signature=seen_here).status_code == 401
    assert post_twilio(client, account, body, signature=signature(PUBLIC_BASE + path, params, TWILIO_TOKEN)).status_code == 200


def test_public_url_from_the_installation_setting(client, settings, api):
    settings.PUBLIC_URL = "https://support.shop.example"
    account = twilio_account(public_base_url="", api_base_url=api.url)
    body = corpus_bytes(SAMPLES + "courier-inbound-sms.txt")
    url = f"https://support.shop.example/hooks/twilio/{account.public_id}/?attempt=2"
    response = client.post(f"/hooks/twilio/{account.public_id}/?attempt=2", data=body,
                           content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": signature(url, parse_qsl(body.decode(), keep_blank_values=True), TWILIO_TOKEN)})
    assert response.status_code == 200


def test_missing_or_wrong_signature_is_401_and_nothing_stored(client, account):
    body = corpus_bytes(SAMPLES + "courier-inbound-sms.txt")
    assert post_twilio(client, account, body, signature=None).status_code == 401
    assert post_twilio(client, account, body, signature="RSOYDt4T1cUTdK1PDd93/VVr8B8=").status_code == 401
    assert post_twilio(client, account, body, token="another-token").status_code == 401
    tampered = body.replace(b"Body=Msg", b"Body=Pay+here")
    params = parse_qsl(body.decode(), keep_blank_values=True)
    good_for_original = signature(f"{PUBLIC_BASE}/hooks/twilio/{account.public_id}/", params, TWILIO_TOKEN)
    assert post_twilio(client, account, tampered, signature=good_for_original).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_replay_is_stored_once(client, account):
    body = corpus_bytes(SAMPLES + "courier-inbound-sms.txt")
    first = post_twilio(client, account, body)
    assert post_twilio(client, account, body).json()["status"] == "duplicate"
    assert InboundEvent.objects.get().event_id == "in:SMe287d7109a5a925f182f0e07fe5b223b"
    process_stored_event(first)
    assert Message.objects.count() == 1


# --- inbound messages ----------------------------------------------------------------------------


def test_sms_opens_a_ticket_for_the_phone_number(client, account):
    event, [message] = deliver(client, account, "courier-inbound-sms.txt")
    assert (message.body_text, message.channel, message.external_id) == ("Msg", "sms", "SMe287d7109a5a925f182f0e07fe5b223b")
    assert message.ticket.external_thread_id == "+14133881111"
    identity = ChannelIdentity.objects.get(customer=message.ticket.customer)
    assert (identity.kind, identity.value, identity.account_id) == ("phone", "+14133881111", None)
    assert message.ticket.customer.phone == "+14133881111"


def test_sms_through_a_messaging_service(client, account):
    event, [message] = deliver(client, account, "courier-inbound-sms-messaging-service.txt")
    assert message.body_text == "John Cruz"
    assert message.metadata["to"] == "384387"


@pytest.mark.parametrize("sample, text", [("courier-inbound-mms-2-media.txt", ""),
                                          ("courier-inbound-mms-with-body.txt", "Msg")])
def test_mms_media_is_fetched_with_basic_auth(client, account, api, sample, text):
    event, [message] = deliver(client, account, sample)
    assert message.body_text == text
    files = [(a.filename, a.content_type, a.file.read()) for a in message.attachments.order_by("pk")]
    assert files == [("cat.jpg", "image/jpeg", CAT), ("dog.jpg", "image/png", DOG)]
    auth = basic_auth(f"{TWILIO_SID}:{TWILIO_TOKEN}")["Authorization"]
    assert [(r.path, r.headers["Authorization"]) for r in api.requests] == [("/cat.jpg", auth), ("/dog.jpg", auth)]


def test_missing_media_keeps_the_message_and_says_so(client, account, api):
    api.route("GET", "/dog.jpg", [Answer(404, {"code": 20404, "message": "The requested resource was not found",
                                               "status": 404})])
    event, [message] = deliver(client, account, "courier-inbound-mms-with-body.txt")
    assert [a.filename for a in message.attachments.all()] == ["cat.jpg"]
    assert "(error 20404)" in message.metadata["media_errors"][0]["error"]


# --- status callbacks ----------------------------------------------------------------------------


def our_sms(account, sid="SMe287d7109a5a925f182f0e07fe5b223b", state="sent", to="+12028831111"):
    ticket, reply = conversation(account, thread=to)
    Message.objects.filter(pk=reply.pk).update(external_id=sid, delivery_state=state)
    return reply


@pytest.mark.parametrize("sample, state", [("courier-status-delivered.txt", "delivered"),
                                           ("courier-status-read.txt", "read")])
def test_status_callbacks_move_the_reply_forward(client, account, sample, state):
    reply = our_sms(account)
    event, _ = deliver(client, account, sample)
    reply.refresh_from_db()
    assert reply.delivery_state == state
    assert event.state == InboundEvent.State.PROCESSED


def test_sent_status_through_a_messaging_service(client, account):
    reply = our_sms(account, sid="SM0b6e2697aae04182a9f5b5c7a8994c7f", state="queued")
    deliver(client, account, "courier-status-sent-messaging-service.txt")
    reply.refresh_from_db()
    assert reply.delivery_state == "sent"


def test_failed_status_shows_twilios_error(client, account):
    reply = our_sms(account)
    deliver(client, account, "courier-status-failed-63018.txt")
    reply.refresh_from_db()
    assert reply.delivery_state == "failed"
    assert reply.failure_reason == "Twilio error 63018: rate limit exceeded for the channel"


def test_error_21610_marks_the_number_opted_out(client, account):
    reply = our_sms(account)
    ChannelIdentity.objects.create(customer=reply.ticket.customer, kind="phone", value="+12028831111")
    event, _ = deliver(client, account, "courier-status-failed-21610-stop.txt")
    reply.refresh_from_db()
    assert reply.delivery_state == "failed"
    assert "21610" in reply.failure_reason
    assert ChannelIdentity.objects.get(kind="phone", value="+12028831111").opted_out_at is not None


def test_status_for_an_unknown_message_is_ignored(client, account):
    event, _ = deliver(client, account, "courier-status-delivered.txt")
    assert event.state == InboundEvent.State.IGNORED
    assert event.result["reason"] == "delivered receipt for a message not sent from the helpdesk"


# --- STOP / START --------------------------------------------------------------------------------


def text_from(client, account, body: str, sid: str):
    form = f"MessageSid={sid}&SmsStatus=received&From=%2B14133881111&To=%2B12028831111&Body={body}&NumMedia=0"
    return process_stored_event(post_twilio(client, account, form.encode()))


def test_stop_opts_the_number_out_and_start_back_in(client, account):
    event, [message] = text_from(client, account, "Stop", "SM0001")
    identity = ChannelIdentity.objects.get(kind="phone", value="+14133881111")
    assert identity.opted_out_at is not None
    assert message.metadata["opt_out"] == "stop"
    text_from(client, account, "START", "SM0002")
    identity.refresh_from_db()
    assert identity.opted_out_at is None


def test_help_changes_nothing(client, account):
    event, [message] = text_from(client, account, "help", "SM0003")
    assert message.metadata["opt_out"] == "help"
    assert ChannelIdentity.objects.get(kind="phone", value="+14133881111").opted_out_at is None


def test_stop_inside_a_sentence_is_just_a_message(client, account):
    event, [message] = text_from(client, account, "please+stop+the+order", "SM0004")
    assert "opt_out" not in message.metadata
    assert ChannelIdentity.objects.get(kind="phone", value="+14133881111").opted_out_at is None


def test_url_signed_with_or_without_the_default_port_is_accepted(client, api):
    from channels_ingest.adapters.twilio.adapter import url_variants

    assert url_variants("https://help.example.com/hooks/x/") == [
        "https://help.example.com/hooks/x/", "https://help.example.com:443/hooks/x/"]
    assert url_variants("https://help.example.com:443/a?b=1") == [
        "https://help.example.com:443/a?b=1", "https://help.example.com/a?b=1"]
    assert url_variants("https://help.example.com:8443/a") == ["https://help.example.com:8443/a"]
    account = twilio_account(api_base_url=api.url)
    body = corpus_bytes(SAMPLES + "courier-inbound-sms.txt")
    with_port = f"https://help.example.com:443/hooks/twilio/{account.public_id}/"
    assert post_twilio(client, account, body, url=with_port).status_code == 200
