"""Postmark inbound (/hooks/postmark/<account>/): JSON, authenticated by basic auth in the webhook
URL. The body is the published inbound example of mvdnbrk/postmark-inbound, exactly as shipped."""

from __future__ import annotations

import json

import pytest

from channels_ingest.models import InboundEvent
from tests.webhook_helpers import (
    basic_auth,
    corpus_bytes,
    make_email_account,
    post_webhook,
    process_stored_event,
)

pytestmark = pytest.mark.django_db

CREDENTIALS = "postmark:inbound-Secret-2"
SAMPLE = "webhooks/postmark-inbound/postmark-inbound-php-inbound.json"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def account():
    return make_email_account(
        "postmark", {"webhook_secret": CREDENTIALS}, {"address": "jane+ahoy@inbound.postmarkapp.com"}
    )


def post(client, account, body: bytes, headers: dict[str, str] | None = None):
    return post_webhook(client, "postmark", account, body, "application/json", headers)


def test_missing_basic_auth_is_refused_and_nothing_stored(client, account):
    assert post(client, account, corpus_bytes(SAMPLE)).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_wrong_basic_auth_is_refused_and_nothing_stored(client, account):
    for credentials in ("postmark:wrong", "other:inbound-Secret-2", "postmark:inbound-Secret-2 "):
        assert post(client, account, corpus_bytes(SAMPLE), basic_auth(credentials)).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_account_without_credentials_refuses_everything(client):
    bare = make_email_account("postmark")
    assert post(client, bare, corpus_bytes(SAMPLE), basic_auth(CREDENTIALS)).status_code == 401
    empty = make_email_account("postmark", {"webhook_secret": ""})
    assert post(client, empty, corpus_bytes(SAMPLE), basic_auth(CREDENTIALS)).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_authenticated_body_that_is_not_json_is_400_and_nothing_stored(client, account):
    assert post(client, account, b"<html>", basic_auth(CREDENTIALS)).status_code == 400
    assert InboundEvent.objects.count() == 0


def test_authenticated_delivery_is_stored_once_under_the_message_id(client, account):
    first = post(client, account, corpus_bytes(SAMPLE), basic_auth(CREDENTIALS))
    assert first.status_code == 200
    assert first.json()["status"] == "accepted"
    replay = post(client, account, corpus_bytes(SAMPLE), basic_auth(CREDENTIALS))
    assert replay.status_code == 200
    assert replay.json() == {"status": "duplicate", "event": first.json()["event"]}

    event = InboundEvent.objects.get()
    # The email's Message-ID header, not Postmark's own MessageID.
    assert event.event_id == "test-message-id@mail.example.com"


def test_without_a_message_id_header_postmarks_id_is_used(client, account):
    payload = json.loads(corpus_bytes(SAMPLE))
    payload["Headers"] = [header for header in payload["Headers"] if header["Name"] != "Message-ID"]
    response = post(client, account, json.dumps(payload).encode(), basic_auth(CREDENTIALS))
    assert response.status_code == 200
    assert InboundEvent.objects.get().event_id == "postmark:a123456-b1234-c123456-d1234"


def test_processing_opens_a_ticket_with_the_attachments(client, account):
    event, messages = process_stored_event(post(client, account, corpus_bytes(SAMPLE), basic_auth(CREDENTIALS)))

    assert event.state == InboundEvent.State.PROCESSED, event.error
    [message] = messages
    assert message.channel == "email"
    assert message.subject == "Postmark inbound message test"
    assert message.body_text.strip() == "[ASCII]"
    # The sample's From and FromFull disagree; FromFull is the parsed address (as anymail reads it).
    assert message.ticket.customer.email == "john@example.com"
    assert message.ticket.customer.name == "John Doe"
    attachments = {item.filename: item for item in message.attachments.all()}
    assert set(attachments) == {"myimage.png", "test.txt"}
    assert attachments["test.txt"].file.read() == b"test"
    assert attachments["myimage.png"].content_id.strip("<>") == "myimage.png@01CE7342.75E71F80"
    assert message.metadata["inbound_via"] == "postmark"
    assert message.metadata["postmark_message_id"] == "a123456-b1234-c123456-d1234"
    assert message.metadata["envelope_recipient"] == "1234+ahoy@inbound.postmarkapp.com"


def test_tracking_webhook_sent_to_the_inbound_url_is_kept_as_failed(client, account):
    bounce = json.dumps({"RecordType": "Bounce", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483"}).encode()
    event, messages = process_stored_event(post(client, account, bounce, basic_auth(CREDENTIALS)))
    assert event.state == InboundEvent.State.FAILED
    assert "Bounce" in event.error
    assert messages == []
