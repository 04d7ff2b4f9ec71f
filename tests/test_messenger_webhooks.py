"""Facebook Messenger (/hooks/messenger/<account>/): Meta's verification handshake, signed
deliveries, and every Messenger sample of the shared corpus processed to the right messages,
receipts or reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels_ingest.models import InboundEvent
from tests.messaging_helpers import (
    APP_SECRET,
    VERIFY_TOKEN,
    conversation,
    meta_account,
    post_meta,
    wrap_messaging,
)
from tests.webhook_helpers import corpus_bytes, fixture_bytes, process_stored_event
from tickets import actions
from tickets.models import ChannelIdentity, Message, Ticket

pytestmark = pytest.mark.django_db

CORPUS = "webhooks/messenger/"


@pytest.fixture
def account():
    return meta_account("messenger")


def deliver(client, account, body: bytes):
    response = post_meta(client, "messenger", account, body)
    return process_stored_event(response)


# --- handshake and signature -------------------------------------------------------------------


def test_handshake_answers_the_challenge_as_plain_text(client, account):
    response = client.get(f"/hooks/messenger/{account.public_id}/",
                          {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("query", [
    {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
    {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    {"hub.challenge": "1"},
])
def test_handshake_with_a_wrong_token_or_mode_is_403(client, account, query):
    response = client.get(f"/hooks/messenger/{account.public_id}/", query)
    assert response.status_code == 403
    assert b"1" not in response.content.replace(b"verification failed", b"")


def test_missing_signature_is_401_and_nothing_stored(client, account):
    assert post_meta(client, "messenger", account, corpus_bytes(CORPUS + "courier-hello-msg.json"), None).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_wrong_signature_is_401_and_nothing_stored(client, account):
    body = corpus_bytes(CORPUS + "courier-hello-msg.json")
    for signature in ("sha256=" + "0" * 64, "sha1=abc", "sha256=", body.hex()[:71]):
        assert post_meta(client, "messenger", account, body, signature).status_code == 401
    # Signed with another secret, or over other bytes.
    from channels_ingest.adapters.meta.common import sign
    assert post_meta(client, "messenger", account, body, sign("other-secret", body)).status_code == 401
    assert post_meta(client, "messenger", account, body + b" ", sign(APP_SECRET, body)).status_code == 401
    assert InboundEvent.objects.count() == 0
    assert Message.objects.count() == 0


def test_replay_is_stored_once_and_threaded_once(client, account):
    body = corpus_bytes(CORPUS + "courier-hello-msg.json")
    first = post_meta(client, "messenger", account, body)
    second = post_meta(client, "messenger", account, body)
    assert first.json()["status"] == "accepted"
    assert second.json()["status"] == "duplicate"
    assert InboundEvent.objects.count() == 1
    process_stored_event(first)
    assert Message.objects.count() == 1


# --- the corpus --------------------------------------------------------------------------------


def test_text_message_opens_a_ticket_for_the_page_scoped_customer(client, account):
    event, messages = deliver(client, account, corpus_bytes(CORPUS + "courier-hello-msg.json"))
    assert event.state == InboundEvent.State.PROCESSED
    [message] = messages
    assert (message.body_text, message.external_id, message.direction) == ("Hello World", "external_id", "inbound")
    assert message.ticket.channel == "messenger"
    assert message.ticket.external_thread_id == "5678"
    identity = ChannelIdentity.objects.get(customer=message.ticket.customer)
    assert (identity.kind, identity.value, identity.account_id) == ("messenger_psid", "5678", account.pk)
    assert message.metadata["sent_at"] == "2016-04-07T01:11:27.970000+00:00"


@pytest.mark.parametrize("sample, text, attachment", [
    ("courier-attachment.json", "[image] https://image-url/foo.png", {"type": "image", "url": "https://image-url/foo.png"}),
    ("courier-location-attachment.json", "[location] 1.2, -1.3", {"type": "location", "latitude": 1.2, "longitude": -1.3}),
    ("courier-fallback.json", "[link] Foo My Documents/foo.doc",
     {"type": "fallback", "url": "My Documents/foo.doc", "title": "Foo"}),
    ("courier-reel.json", "[reel] /reel/123451234512345/",
     {"type": "ig_reel", "url": "/reel/123451234512345/", "reel_video_id": "123451234512345"}),
    ("courier-thumbs-up.json", "[sticker] https://scontent.xx.fbcdn.net/v/arst",
     {"type": "image", "url": "https://scontent.xx.fbcdn.net/v/arst", "sticker_id": "369239263222822"}),
])
def test_attachments_are_described_with_their_links(client, account, sample, text, attachment):
    event, [message] = deliver(client, account, corpus_bytes(CORPUS + sample))
    assert message.body_text == text
    assert message.metadata["attachments"] == [attachment]


def test_postback_is_the_customer_pressing_a_button(client, account):
    event, [message] = deliver(client, account, corpus_bytes(CORPUS + "courier-postback.json"))
    assert message.body_text == "postback title"
    assert message.metadata["postback_payload"] == "postback payload"
    assert message.metadata["referral"]["ref"] == "postback ref"
    assert message.external_id.startswith("postback:")


def test_quick_reply_keeps_its_payload(client, account):
    body = wrap_messaging(corpus_bytes(CORPUS + "metadocs-messages-text-quick-reply.json"))
    event, [message] = deliver(client, account, body)
    assert message.body_text == "hello, world!"
    assert message.metadata["quick_reply_payload"] == "<DEVELOPER_DEFINED_PAYLOAD>"
    assert message.external_id == "mid.1457764197618:41d102a3e1ae206a38"


def test_reply_to_a_message_joins_its_ticket(client, account):
    ticket, earlier = conversation(account, thread="<PSID>")
    Message.objects.filter(pk=earlier.pk).update(external_id="m_1fTq8oLumEyIp3Q2MR-aY7IfLZDamVrALniheU")
    body = wrap_messaging(corpus_bytes(CORPUS + "metadocs-messages-reply-to.json"))
    event, [message] = deliver(client, account, body)
    assert message.ticket_id == ticket.pk
    assert message.metadata["reply_to"] == "m_1fTq8oLumEyIp3Q2MR-aY7IfLZDamVrALniheU"


def test_the_same_message_twice_in_one_batch_is_threaded_once(client, account):
    event, messages = deliver(client, account, corpus_bytes(CORPUS + "courier-duplicate-msg.json"))
    assert len(messages) == 1
    assert Message.objects.count() == 1


@pytest.mark.parametrize("sample, reason", [
    ("courier-referral.json", "referral (ad or link click) without a message"),
    ("courier-unknown-messaging-entry.json", "messaging event with only sender, recipient and timestamp"),
])
def test_events_without_a_message_are_ignored_with_the_reason(client, account, sample, reason):
    event, messages = deliver(client, account, corpus_bytes(CORPUS + sample))
    assert event.state == InboundEvent.State.IGNORED
    assert event.result["reason"] == reason
    assert messages == [] and Ticket.objects.count() == 0


def test_echo_of_our_own_reply_changes_nothing(client, account):
    ticket, reply = conversation(account, thread="5678")
    Message.objects.filter(pk=reply.pk).update(external_id="qT7ywaK", delivery_state="sent")
    event, messages = deliver(client, account, corpus_bytes(CORPUS + "courier-echo.json"))
    assert event.state == InboundEvent.State.IGNORED
    assert event.result["reason"] == "echo of a message sent from the helpdesk"
    assert Message.objects.filter(ticket=ticket).count() == 2


def test_echo_of_a_message_sent_from_the_page_is_recorded_as_a_reply(client, account):
    ticket, reply = conversation(account, thread="5678")
    event, _ = deliver(client, account, corpus_bytes(CORPUS + "courier-echo.json"))
    echo = Message.objects.get(external_id="qT7ywaK")
    assert (echo.ticket_id, echo.direction, echo.delivery_state) == (ticket.pk, "outbound", "sent")
    assert echo.metadata["sent_outside_helpdesk"] is True
    assert not Message.objects.filter(direction="inbound", external_id="qT7ywaK").exists()
    assert event.state == InboundEvent.State.PROCESSED


def test_echo_with_no_conversation_is_never_a_customer_message(client, account):
    event, messages = deliver(client, account, corpus_bytes(CORPUS + "courier-echo.json"))
    assert event.state == InboundEvent.State.IGNORED
    assert "no conversation here" in event.result["reason"]
    assert Message.objects.count() == 0 and Ticket.objects.count() == 0


def test_delivery_receipt_marks_our_reply_delivered(client, account):
    ticket, reply = conversation(account, thread="5678")
    Message.objects.filter(pk=reply.pk).update(external_id="mid.1458668856218:ed81099e15d3f4f233", delivery_state="sent")
    event, _ = deliver(client, account, corpus_bytes(CORPUS + "courier-dlr.json"))
    reply.refresh_from_db()
    assert reply.delivery_state == "delivered"
    assert reply.metadata["delivery"]["delivered"] == "2016-04-07T01:11:27.970000+00:00"
    assert event.state == InboundEvent.State.PROCESSED
    assert Message.objects.filter(ticket=ticket).count() == 2


def test_delivery_receipt_for_an_unknown_message_is_ignored(client, account):
    event, _ = deliver(client, account, corpus_bytes(CORPUS + "courier-dlr.json"))
    assert event.state == InboundEvent.State.IGNORED
    # The mid and the watermark each found nothing of ours.
    assert event.result["reason"].split("; ") == ["delivered receipt for a message not sent from the helpdesk"] * 2


def test_read_watermark_marks_every_earlier_reply_read(client, account):
    ticket, reply = conversation(account, thread="<PSID>")
    watermark = datetime.fromtimestamp(1458668856.253, UTC)
    earlier = actions.add_message(ticket=ticket, direction="outbound", body_text="first",
                                  delivery_state="sent", created_at=watermark - timedelta(minutes=5))
    Message.objects.filter(pk=reply.pk).update(delivery_state="sent", created_at=watermark + timedelta(minutes=5))
    event, _ = deliver(client, account, wrap_messaging(corpus_bytes(CORPUS + "metadocs-message-reads.json")))
    earlier.refresh_from_db()
    reply.refresh_from_db()
    assert earlier.delivery_state == "read"
    assert reply.delivery_state == "sent"  # sent after the watermark: not read yet


def test_reaction_is_recorded_on_the_message_it_is_about(client, account):
    deliver(client, account, corpus_bytes(CORPUS + "courier-hello-msg.json"))
    event, messages = deliver(client, account, fixture_bytes("messenger", "message_reactions.json"))
    target = Message.objects.get(external_id="external_id")
    assert [r["emoji"] for r in target.metadata["reactions"]] == ["\u2764\ufe0f"]
    assert Message.objects.count() == 1  # no new message
    assert event.state == InboundEvent.State.PROCESSED


def test_documented_reaction_sample_that_is_not_json_is_kept_as_failed(client, account):
    body = corpus_bytes(CORPUS + "metadocs-message-reactions.invalid-json.txt")
    assert post_meta(client, "messenger", account, body, None).status_code == 401
    assert InboundEvent.objects.count() == 0
    event, messages = deliver(client, account, body)
    assert event.state == InboundEvent.State.FAILED
    assert event.error.startswith("ParseError: the body is not JSON")
    assert messages == []


def test_event_id_is_the_message_id_and_a_receipt_has_a_stable_hash(client, account):
    hello = corpus_bytes(CORPUS + "courier-hello-msg.json")
    post_meta(client, "messenger", account, hello)
    receipt = corpus_bytes(CORPUS + "courier-dlr.json")
    post_meta(client, "messenger", account, receipt)
    # The same receipt re-serialised (Meta's retries need not be byte-identical) is the same event.
    import json

    compact = json.dumps(json.loads(receipt), separators=(",", ":")).encode()
    assert post_meta(client, "messenger", account, compact).json()["status"] == "duplicate"
    ids = sorted(InboundEvent.objects.values_list("event_id", flat=True))
    assert ids[0].startswith("entry-sha256:") and ids[1] == "mid:external_id"
