"""SendGrid Inbound Parse (/hooks/sendgrid/<account>/): multipart/form-data, parsed fields or the
raw email, authenticated by basic auth in the URL the merchant gives SendGrid. Bodies are the
published samples of sendgrid-python, exactly as shipped (their .headers.json give the boundary)."""

from __future__ import annotations

import hashlib

import pytest

from channels_ingest.adapters.mime.inbound import form_field_bytes
from channels_ingest.models import InboundEvent
from tests.webhook_helpers import (
    basic_auth,
    corpus_bytes,
    corpus_content_type,
    make_email_account,
    multipart_form,
    post_webhook,
    process_stored_event,
)

pytestmark = pytest.mark.django_db

CREDENTIALS = "sendgrid:parse-Secret-1"
DEFAULT = "webhooks/sendgrid-inbound-parse/sendgrid-python-default-data.txt"
RAW = "webhooks/sendgrid-inbound-parse/sendgrid-python-raw-data.txt"
RAW_WITH_ATTACHMENT = "webhooks/sendgrid-inbound-parse/sendgrid-python-raw-data-with-attachments.txt"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def account():
    return make_email_account(
        "sendgrid", {"webhook_secret": CREDENTIALS}, {"address": "inbound@inbound.example.com"}
    )


def post(client, account, sample: str, headers: dict[str, str] | None = None):
    return post_webhook(client, "sendgrid", account, corpus_bytes(sample), corpus_content_type(sample), headers)


@pytest.mark.parametrize("sample", [DEFAULT, RAW, RAW_WITH_ATTACHMENT])
def test_missing_basic_auth_is_refused_and_nothing_stored(client, account, sample):
    assert post(client, account, sample).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_wrong_basic_auth_is_refused_and_nothing_stored(client, account):
    for headers in (
        basic_auth("sendgrid:wrong"),
        basic_auth("someone:parse-Secret-1"),
        {"Authorization": "Bearer parse-Secret-1"},
        {"Authorization": "Basic not-base64!"},
    ):
        assert post(client, account, DEFAULT, headers).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_account_without_credentials_refuses_everything(client):
    bare = make_email_account("sendgrid")
    assert post(client, bare, DEFAULT, basic_auth(CREDENTIALS)).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_credentials_being_rotated_are_both_accepted(client):
    rotating = make_email_account("sendgrid", {"webhook_secret": ["sendgrid:new", CREDENTIALS]})
    assert post(client, rotating, DEFAULT, basic_auth(CREDENTIALS)).status_code == 200
    assert post(client, rotating, RAW, basic_auth("sendgrid:new")).status_code == 200
    assert InboundEvent.objects.count() == 2


@pytest.mark.parametrize("sample", [DEFAULT, RAW, RAW_WITH_ATTACHMENT])
def test_authenticated_delivery_is_stored_once(client, account, sample):
    first = post(client, account, sample, basic_auth(CREDENTIALS))
    assert first.status_code == 200
    assert first.json()["status"] == "accepted"
    replay = post(client, account, sample, basic_auth(CREDENTIALS))
    assert replay.status_code == 200
    assert replay.json() == {"status": "duplicate", "event": first.json()["event"]}

    event = InboundEvent.objects.get()
    # The samples carry no Message-ID: the delivery is known by its bytes.
    assert event.event_id == "sha256:" + hashlib.sha256(corpus_bytes(sample)).hexdigest()
    assert event.headers["content-type"] == "multipart/form-data; boundary=xYzZY"
    assert "authorization" not in {name.lower() for name in event.headers}


def test_message_id_in_the_raw_email_is_the_event_id(client, account):
    raw = (
        b"From: Ana <ana@example.org>\r\nTo: inbound@inbound.example.com\r\nSubject: Hi\r\n"
        b"Message-ID: <ana-1@example.org>\r\n\r\nHello\r\n"
    )
    body, content_type = multipart_form([("email", raw), ("to", "inbound@inbound.example.com")])
    response = post_webhook(client, "sendgrid", account, body, content_type, basic_auth(CREDENTIALS))
    assert response.status_code == 200
    assert InboundEvent.objects.get().event_id == "ana-1@example.org"


def test_default_fields_open_a_ticket(client, account):
    event, messages = process_stored_event(post(client, account, DEFAULT, basic_auth(CREDENTIALS)))

    assert event.state == InboundEvent.State.PROCESSED, event.error
    [message] = messages
    assert message.channel == "email"
    # The subject comes from the email's own headers field, not SendGrid's separate field.
    assert message.subject == "Inbound Parse Test Data"
    assert message.body_text.strip() == "Hello Twilio SendGrid!"
    assert "Hello Twilio SendGrid!" in message.body_html
    assert message.ticket.customer.email == "test@example.com"
    assert message.ticket.customer.name == "Example User"
    assert message.attachments.count() == 0
    assert message.metadata["inbound_via"] == "sendgrid"
    assert message.metadata["envelope_recipient"] == "inbound@inbound.example.com"


def test_raw_email_opens_a_ticket(client, account):
    event, messages = process_stored_event(post(client, account, RAW, basic_auth(CREDENTIALS)))

    assert event.state == InboundEvent.State.PROCESSED, event.error
    [message] = messages
    assert message.subject == "Inbound Parse Test Raw Data"
    assert message.body_text.strip() == "Hello Twilio SendGrid!"
    assert message.ticket.customer.email == "test@example.com"
    assert message.metadata["envelope_sender"] == "test@example.com"


def test_raw_email_attachment_is_stored(client, account):
    event, messages = process_stored_event(post(client, account, RAW_WITH_ATTACHMENT, basic_auth(CREDENTIALS)))

    assert event.state == InboundEvent.State.PROCESSED, event.error
    [message] = messages
    assert message.subject == "Inbound Parse Test Raw Data with Attachment"
    assert message.body_text.strip() == "Hello Twilio SendGrid!"
    [picture] = message.attachments.all()
    assert picture.filename == "SendGrid.jpg"
    assert picture.content_type == "image/jpeg"
    content = picture.file.read()
    assert content.startswith(b"\xff\xd8\xff")  # a JPEG
    assert picture.size == len(content)


def test_raw_email_bytes_reach_the_parser_untouched():
    # Django would decode the field as UTF-8; an 8-bit email in another charset needs its bytes.
    raw = "Subject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nCrème brûlée\r\n".encode("latin-1")
    body, content_type = multipart_form([("email", raw)])
    assert form_field_bytes(body, content_type, "email") == raw


def test_delivery_without_an_email_is_kept_as_failed(client, account):
    body, content_type = multipart_form([("to", "inbound@inbound.example.com"), ("subject", "?")])
    response = post_webhook(client, "sendgrid", account, body, content_type, basic_auth(CREDENTIALS))
    event, messages = process_stored_event(response)
    assert event.state == InboundEvent.State.FAILED
    assert "ParseError" in event.error
    assert messages == []
