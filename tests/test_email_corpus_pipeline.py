"""Every email of the shared corpus goes through the whole pipeline (signed raw MIME webhook →
stored event → worker processing): each ends as a ticket message with readable text, an
automatic reply that opens nothing, or a failed event with its error. None is lost, and a second
delivery creates nothing new."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels_ingest.actions import process_event
from channels_ingest.adapters.generic.adapter import sign
from channels_ingest.models import InboundEvent
from tests.webhook_helpers import CORPUS, make_email_account, post_webhook
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db

EMAILS = sorted((CORPUS / "emails").glob("*.eml"))
SECRET = "mime-corpus-secret"


@pytest.fixture
def mailbox():
    return make_email_account("mime", {"signing_secret": SECRET}, {"address": "soporte@casalumbre.example"})


def post_email(client, mailbox, raw: bytes):
    return post_webhook(client, "mime", mailbox, raw, "message/rfc822", {"X-Helpdesk-Signature": sign(SECRET, raw)})


def test_the_corpus_is_all_there():
    assert len(EMAILS) == 40


@pytest.mark.parametrize("path", EMAILS, ids=[p.name for p in EMAILS])
def test_each_email_becomes_a_message_an_ignored_auto_reply_or_a_kept_failure(client, mailbox, path: Path):
    raw = path.read_bytes()
    response = post_email(client, mailbox, raw)
    assert response.status_code == 200
    event = InboundEvent.objects.get(pk=response.json()["event"])
    assert bytes(event.body) == raw  # the raw MIME is always kept

    state = process_event(event.pk)
    event.refresh_from_db()
    messages = list(Message.objects.filter(inbound_event=event))
    if state == "processed":
        assert len(messages) == 1
        message = messages[0]
        assert message.body_text.strip() or message.attachments.exists() or message.body_html.strip()
        assert "\ufffd" * 3 not in message.body_text  # no runs of undecodable characters
        assert "<script" not in message.body_html.lower()
    elif state == "ignored":
        assert messages == []
        assert event.result == {"reason": "nothing to thread"} or all(m["skipped"] for m in event.result["messages"])
    else:
        assert state == "failed" and event.error.strip(), event.error

    # A second delivery of the same mail creates nothing new.
    events, stored, tickets = InboundEvent.objects.count(), Message.objects.count(), Ticket.objects.count()
    again = post_email(client, mailbox, raw)
    assert again.status_code == 200
    process_event(again.json()["event"])
    assert (InboundEvent.objects.count(), Message.objects.count(), Ticket.objects.count()) == (events, stored, tickets)


def _message_id(raw: bytes) -> str | None:
    import email
    from email import policy

    value = email.message_from_bytes(raw, policy=policy.compat32).get("Message-ID")
    return str(value).strip().strip("<>") if value else None


def test_the_whole_corpus_in_one_mailbox_loses_nothing(client, mailbox):
    answers = {}
    for path in EMAILS:
        response = post_email(client, mailbox, path.read_bytes())
        assert response.status_code == 200
        answers[path] = response.json()
    events = {event.pk: event for event in InboundEvent.objects.all()}
    assert {answer["event"] for answer in answers.values()} == set(events)
    for path, answer in answers.items():
        if answer["status"] == "duplicate":
            # Two files carrying the same Message-ID are one message delivered twice.
            assert _message_id(path.read_bytes()) == _message_id(bytes(events[answer["event"]].body))
    for pk in events:
        process_event(pk)
    outcomes = {state: InboundEvent.objects.filter(state=state).count() for state in ("processed", "ignored", "failed", "pending")}
    assert outcomes["pending"] == 0
    assert outcomes["processed"] + outcomes["ignored"] + outcomes["failed"] == len(events)
    # Most of the corpus is ordinary customer mail: it must become messages.
    assert outcomes["processed"] >= 25, outcomes
    assert Message.objects.count() == outcomes["processed"]
