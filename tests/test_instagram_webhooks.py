"""Instagram Direct (/hooks/instagram/<account>/): the same Meta handshake and signature as
Messenger, and every Instagram sample of the shared corpus processed to the right messages,
changes or reasons."""

from __future__ import annotations

import pytest

from channels_ingest.models import InboundEvent
from tests.messaging_helpers import VERIFY_TOKEN, conversation, meta_account, post_meta
from tests.webhook_helpers import corpus_bytes, process_stored_event
from tickets.models import ChannelIdentity, Message, Ticket

pytestmark = pytest.mark.django_db

CORPUS = "webhooks/instagram/"


@pytest.fixture
def account():
    return meta_account("instagram")


def deliver(client, account, body: bytes):
    return process_stored_event(post_meta(client, "instagram", account, body))


def test_handshake_and_signature(client, account):
    ok = client.get(f"/hooks/instagram/{account.public_id}/",
                    {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "ig-42"})
    assert (ok.status_code, ok.content) == (200, b"ig-42")
    refused = client.get(f"/hooks/instagram/{account.public_id}/",
                         {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN + "x", "hub.challenge": "ig-42"})
    assert refused.status_code == 403
    body = corpus_bytes(CORPUS + "courier-hello-msg.json")
    assert post_meta(client, "instagram", account, body, None).status_code == 401
    assert post_meta(client, "instagram", account, body, "sha256=" + "ab" * 32).status_code == 401
    assert InboundEvent.objects.count() == 0
    assert post_meta(client, "instagram", account, body).status_code == 200


def test_messenger_payload_posted_to_an_instagram_account_fails_with_the_reason(client, account):
    body = corpus_bytes("webhooks/messenger/courier-hello-msg.json")
    event, messages = deliver(client, account, body)
    assert event.state == InboundEvent.State.FAILED
    assert "unexpected webhook object 'page', expected instagram" in event.error


def test_direct_message_opens_a_ticket(client, account):
    event, [message] = deliver(client, account, corpus_bytes(CORPUS + "courier-hello-msg.json"))
    assert (message.body_text, message.channel, message.ticket.channel) == ("Hello World", "instagram", "instagram")
    identity = ChannelIdentity.objects.get(customer=message.ticket.customer)
    assert (identity.kind, identity.value, identity.account_id) == ("instagram", "5678", account.pk)


@pytest.mark.parametrize("sample, text, metadata", [
    ("courier-attachment.json", "[image] https://image-url/foo.png", {}),
    ("courier-like-heart.json", "\u2764\ufe0f", {}),
    ("courier-story-mention.json", "[story mention] https://story-url", {"story_mention": True}),
])
def test_attachments_and_story_mentions(client, account, sample, text, metadata):
    event, [message] = deliver(client, account, corpus_bytes(CORPUS + sample))
    assert message.body_text == text
    for key, value in metadata.items():
        assert message.metadata[key] == value


def test_shared_post_keeps_its_media_id_and_title(client, account):
    event, [message] = deliver(client, account, corpus_bytes(CORPUS + "metadocs-ig-post-share-attachment.json"))
    [attachment] = message.metadata["attachments"]
    assert attachment["type"] == "share"
    assert attachment["ig_post_media_id"] == "18139494541428835"
    assert message.body_text.startswith("[shared post] Build a workspace that attracts talent")
    assert message.ticket.external_thread_id == "{SENDER_ID}"


def test_ice_breaker_is_the_question_the_customer_chose(client, account):
    event, [message] = deliver(client, account, corpus_bytes(CORPUS + "courier-icebreaker-get-started.json"))
    assert message.body_text == "icebreaker question"
    assert message.metadata["postback_payload"] == "get_started"


def test_duplicate_in_one_batch_is_threaded_once(client, account):
    event, messages = deliver(client, account, corpus_bytes(CORPUS + "courier-duplicate-msg.json"))
    assert len(messages) == 1


def test_echo_is_never_a_customer_message(client, account):
    event, messages = deliver(client, account, corpus_bytes(CORPUS + "courier-echo.json"))
    assert event.state == InboundEvent.State.IGNORED
    assert Message.objects.filter(direction="inbound").count() == 0
    assert Ticket.objects.count() == 0


def test_unsent_message_loses_its_content_and_says_so(client, account):
    deliver(client, account, corpus_bytes(CORPUS + "courier-hello-msg.json"))
    event, _ = deliver(client, account, corpus_bytes(CORPUS + "courier-unsent-msg.json"))
    message = Message.objects.get(external_id="external_id")
    assert message.body_text == ""
    assert message.metadata["unsent_at"] == "2019-09-23T18:14:45.349000+00:00"
    assert event.state == InboundEvent.State.PROCESSED
    assert Message.objects.count() == 1


def test_unsent_message_we_never_had_is_ignored(client, account):
    event, _ = deliver(client, account, corpus_bytes(CORPUS + "courier-unsent-msg.json"))
    assert event.state == InboundEvent.State.IGNORED
    assert event.result["reason"] == "unsent message the helpdesk never received"


def test_conversation_thread_is_the_customer(client, account):
    ticket, reply = conversation(account, thread="5678")
    event, [message] = deliver(client, account, corpus_bytes(CORPUS + "courier-hello-msg.json"))
    assert message.ticket_id == ticket.pk


def test_story_reply_keeps_the_story(client, account):
    from tests.webhook_helpers import fixture_bytes

    event, [message] = deliver(client, account, fixture_bytes("instagram", "story_reply.json"))
    assert message.body_text == ("[reply to story] https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17895695668004550\n"
                                 "Is this jacket still available in M?")
    assert message.metadata["story_reply"]["id"] == "17895695668004550"


def test_replay_is_stored_once(client, account):
    body = corpus_bytes(CORPUS + "courier-attachment.json")
    first = post_meta(client, "instagram", account, body)
    assert post_meta(client, "instagram", account, body).json()["status"] == "duplicate"
    process_stored_event(first)
    assert InboundEvent.objects.count() == 1 and Message.objects.count() == 1


def test_reply_outside_the_window_is_blocked_on_instagram(account):
    from datetime import timedelta

    from channels_ingest import outbound

    ticket, reply = conversation(account, thread="5678", customer_wrote_ago=timedelta(hours=24, minutes=1))
    outbound.send_message(reply.pk)
    reply.refresh_from_db()
    assert reply.delivery_state == "failed"
    assert "24-hour reply window of Instagram closed at" in reply.failure_reason
