"""Raw MIME POST (/hooks/mime/<account>/): the body is the email itself, signed with
X-Helpdesk-Signature: sha256=<HMAC of the body> keyed with the account's signing_secret."""

from __future__ import annotations

import pytest

from channels_ingest.adapters.generic.adapter import sign
from channels_ingest.models import InboundEvent
from tests.webhook_helpers import (
    corpus_bytes,
    make_email_account,
    post_webhook,
    process_stored_event,
)

pytestmark = pytest.mark.django_db

SECRET = "whsec_test_mime"
# A real Apple Mail message (from the shared corpus) with a PDF sent as an inline part.
SAMPLE = "emails/chatwoot-email-with-inline-pdf.eml"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def account():
    return make_email_account("mime", {"signing_secret": SECRET}, {"address": "user@example.com"})


def post(client, account, body: bytes, *, signature: str | None = None, secret: str | None = SECRET):
    headers = {}
    if signature is not None:
        headers["X-Helpdesk-Signature"] = signature
    elif secret is not None:
        headers["X-Helpdesk-Signature"] = sign(secret, body)
    return post_webhook(client, "mime", account, body, "message/rfc822", headers)


def test_missing_signature_is_refused_and_nothing_stored(client, account):
    assert post(client, account, corpus_bytes(SAMPLE), secret=None).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_wrong_signature_is_refused_and_nothing_stored(client, account):
    body = corpus_bytes(SAMPLE)
    assert post(client, account, body, secret="not-the-secret").status_code == 401
    assert post(client, account, body, signature="sha256=" + "0" * 64).status_code == 401
    # Signed, then changed on the way: the signature no longer matches.
    assert post(client, account, body + b"\r\n", signature=sign(SECRET, body)).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_account_without_secret_refuses_everything(client):
    bare = make_email_account("mime")
    assert post(client, bare, corpus_bytes(SAMPLE)).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_empty_body_is_400_and_nothing_stored(client, account):
    assert post(client, account, b"").status_code == 400
    assert InboundEvent.objects.count() == 0


def test_signed_email_is_stored_once_under_its_message_id(client, account):
    body = corpus_bytes(SAMPLE)
    first = post(client, account, body)
    assert first.status_code == 200
    assert first.json()["status"] == "accepted"
    replay = post(client, account, body)
    assert replay.status_code == 200
    assert replay.json() == {"status": "duplicate", "event": first.json()["event"]}

    event = InboundEvent.objects.get()
    assert event.event_id == "827-314S13-SSS2310@example.com"
    assert event.body_bytes == body
    assert event.headers == {"content-type": "message/rfc822"}


def test_same_email_relayed_again_with_another_trace_header_is_stored_once(client, account):
    body = corpus_bytes(SAMPLE)
    assert post(client, account, body).status_code == 200
    relayed = b"Received: from relay2.example.net by mx.example.com; Fri, 28 Feb 2025 02:17:35 +0000\r\n" + body
    response = post(client, account, relayed)
    assert response.status_code == 200
    assert response.json()["status"] == "duplicate"
    assert InboundEvent.objects.count() == 1


def test_processing_opens_a_ticket_with_the_email_and_its_pdf(client, account):
    event, messages = process_stored_event(post(client, account, corpus_bytes(SAMPLE)))

    assert event.state == InboundEvent.State.PROCESSED, event.error
    [message] = messages
    assert message.channel == "email"
    assert message.channel_account == account
    assert message.external_id == "827-314S13-SSS2310@example.com"
    assert message.subject == "Sample PDF"
    assert message.body_text.strip() == "Here is an example mail with inline PDF"
    assert message.ticket.subject == "Sample PDF"
    assert message.ticket.customer.email == "user@icloud.com"
    [pdf] = message.attachments.all()
    assert pdf.filename == "dummy.pdf"
    assert pdf.content_type == "application/pdf"
    assert pdf.file.read().startswith(b"%PDF-1.4")
    assert message.metadata["inbound_via"] == "mime"
