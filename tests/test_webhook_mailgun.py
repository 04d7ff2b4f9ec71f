"""Mailgun inbound routes (/hooks/mailgun/<account>/): form posts signed with
signature = hex HMAC-SHA256(timestamp + token) keyed with the domain's webhook signing key.
The parsed fields are the fixture adapters/mailgun/fixtures/inbound__parsed.json (written from
Mailgun's documented parameters); the raw variant carries a corpus email in `body-mime`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import timedelta

import pytest

from channels_ingest.models import InboundEvent
from tests.webhook_helpers import (
    corpus_bytes,
    fixture_bytes,
    make_email_account,
    multipart_form,
    post_webhook,
    process_stored_event,
    urlencoded_form,
)

pytestmark = pytest.mark.django_db

SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
# A Shift_JIS email sent as raw 8-bit: only a byte-exact path keeps its text.
RAW_EMAIL = "emails/mikel-mail-japanese-shift-jis.eml"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def account():
    return make_email_account(
        "mailgun", {"webhook_signing_key": SIGNING_KEY}, {"address": "support@shop.example.com"}
    )


def signature_fields(key: str = SIGNING_KEY, *, timestamp: int | None = None, token: str | None = None) -> list:
    """Mailgun's documented signing: HMAC-SHA256 over timestamp + token, hex."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    token = token or secrets.token_hex(25)  # "a randomly generated string with length 50"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return [("timestamp", str(timestamp)), ("token", token), ("signature", signature)]


def parsed_post(signature: list) -> tuple[bytes, str]:
    """The fully parsed form, with its attachment as a file part (multipart, as Mailgun sends
    it when the email has attachments)."""
    fixture = json.loads(fixture_bytes("mailgun", "inbound__parsed.json"))
    files = [
        (item["field"], item["filename"], item["content_type"], base64.b64decode(item["base64"]))
        for item in fixture["files"]
    ]
    return multipart_form([*fixture["fields"].items(), *signature], files)


def raw_post(signature: list, *, encoding: str = "multipart") -> tuple[bytes, str]:
    fields = [
        ("recipient", "unknown@example.com"),
        ("sender", "xxxxxxx@docomo.ne.jp"),
        ("body-mime", corpus_bytes(RAW_EMAIL)),
        *signature,
    ]
    return multipart_form(fields) if encoding == "multipart" else urlencoded_form(fields)


def post(client, account, body_and_type: tuple[bytes, str]):
    body, content_type = body_and_type
    return post_webhook(client, "mailgun", account, body, content_type)


def test_missing_signature_is_refused_and_nothing_stored(client, account):
    assert post(client, account, parsed_post([])).status_code == 401
    assert post(client, account, raw_post([])).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_wrong_signature_is_refused_and_nothing_stored(client, account):
    assert post(client, account, parsed_post(signature_fields("key-not-the-right-one"))).status_code == 401
    forged = signature_fields()
    forged[2] = ("signature", "0" * 64)
    assert post(client, account, raw_post(forged)).status_code == 401
    # A valid signature whose token was swapped: what is signed no longer matches.
    swapped = signature_fields()
    swapped[1] = ("token", secrets.token_hex(25))
    assert post(client, account, raw_post(swapped)).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_stale_or_future_signature_is_refused(client, account):
    now = int(time.time())
    too_old = now - int(timedelta(hours=9).total_seconds())
    assert post(client, account, raw_post(signature_fields(timestamp=too_old))).status_code == 401
    future = now + int(timedelta(hours=1).total_seconds())
    assert post(client, account, raw_post(signature_fields(timestamp=future))).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_a_retry_within_mailguns_retry_window_is_accepted(client, account):
    # Mailgun retries for 8 hours; a retry carrying the first attempt's signature still passes.
    four_hours_ago = int(time.time()) - 4 * 3600
    assert post(client, account, raw_post(signature_fields(timestamp=four_hours_ago))).status_code == 200


def test_account_can_narrow_the_signature_age(client):
    strict = make_email_account(
        "mailgun", {"webhook_signing_key": SIGNING_KEY}, {"signature_max_age_seconds": 300}
    )
    ten_minutes_ago = int(time.time()) - 600
    assert post(client, strict, raw_post(signature_fields(timestamp=ten_minutes_ago))).status_code == 401
    assert post(client, strict, raw_post(signature_fields())).status_code == 200


def test_account_without_signing_key_refuses_everything(client):
    bare = make_email_account("mailgun")
    assert post(client, bare, parsed_post(signature_fields())).status_code == 401
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize("variant", ["parsed", "raw-multipart", "raw-urlencoded"])
def test_signed_delivery_is_stored_once_under_the_message_id(client, account, variant):
    def build(signature):
        if variant == "parsed":
            return parsed_post(signature)
        return raw_post(signature, encoding=variant.removeprefix("raw-"))

    first = post(client, account, build(signature_fields()))
    assert first.status_code == 200
    assert first.json()["status"] == "accepted"
    # Mailgun's retry: the same email, freshly signed (new timestamp and token, other bytes).
    retry = post(client, account, build(signature_fields()))
    assert retry.status_code == 200
    assert retry.json() == {"status": "duplicate", "event": first.json()["event"]}

    event = InboundEvent.objects.get()
    expected = "CAF7x2Lq9mQ0rT+broken-mug@mail.example.org" if variant == "parsed" else "xxxxx@docomo.ne.jp"
    assert event.event_id == expected


def test_parsed_fields_open_a_ticket_with_the_attachment(client, account):
    event, messages = process_stored_event(post(client, account, parsed_post(signature_fields())))

    assert event.state == InboundEvent.State.PROCESSED, event.error
    [message] = messages
    assert message.channel == "email"
    assert message.subject == "Order #1042 arrived damaged"
    assert "the mug inside is broken" in message.body_text
    assert message.ticket.customer.email == "maria.lopez@example.org"
    assert message.ticket.customer.name == "María López"
    [photo] = message.attachments.all()
    assert photo.filename == "broken-mug.png"
    assert photo.content_type == "image/png"
    assert photo.file.read().startswith(b"\x89PNG")
    assert message.metadata["inbound_via"] == "mailgun"
    assert message.metadata["envelope_sender"] == "maria.lopez@example.org"


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
def test_raw_mime_keeps_every_byte(client, account, encoding):
    event, messages = process_stored_event(post(client, account, raw_post(signature_fields(), encoding=encoding)))

    assert event.state == InboundEvent.State.PROCESSED, event.error
    [message] = messages
    assert message.subject == "test"
    assert message.body_text.startswith("あいうえお")
    assert message.ticket.customer.email == "xxxxxxx@docomo.ne.jp"
    assert message.metadata["envelope_recipient"] == "unknown@example.com"


def test_store_notification_sent_to_the_forward_url_is_kept_as_failed(client, account):
    # A route using store(notify=...) posts a JSON "attachments" list instead of files.
    fields = [("recipient", "support@shop.example.com"), ("attachments", "[]"), *signature_fields()]
    event, messages = process_stored_event(post(client, account, multipart_form(fields)))
    assert event.state == InboundEvent.State.FAILED
    assert "store()" in event.error
    assert messages == []
