"""The ingest road, through the generic signed JSON webhook: refusals store nothing, replays are
stored once, failures are kept with their error, and messages thread into the right ticket."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_ingest.actions import process_event, reprocess_events
from channels_ingest.adapters.generic.adapter import sign
from channels_ingest.models import InboundEvent
from tests.factories import ChannelAccountFactory, OrderFactory
from tickets import actions
from tickets.models import ChannelIdentity, Customer, Message, Ticket

pytestmark = pytest.mark.django_db

SECRET = "whsec_test_generic"


@pytest.fixture
def account():
    account = ChannelAccountFactory(channel="marketplace", provider="generic", display_name="eMAG")
    account.set_secrets({"signing_secret": SECRET})
    account.save()
    return account


def event(event_id: str = "evt-1", **message) -> dict:
    body = {
        "id": "m-" + event_id,
        "thread_id": "conv-1",
        "customer": {"id": "buyer-77", "name": "Ioana Marin", "email": "Ioana.Marin@example.ro"},
        "subject": "Unde este coletul?",
        "text": "Bună ziua, comanda mea nu a ajuns.",
        "order_number": "",
    }
    body.update(message)
    return {"id": event_id, "type": "message.created", "message": body}


def post(client, account, payload, *, secret: str | None = SECRET, raw: bytes | None = None, signature=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {}
    if signature is not None:
        headers["X-Helpdesk-Signature"] = signature
    elif secret is not None:
        headers["X-Helpdesk-Signature"] = sign(secret, body)
    return client.post(
        f"/hooks/generic/{account.public_id}/", data=body, content_type="application/json", headers=headers
    )


def deliver(client, account, payload) -> InboundEvent:
    response = post(client, account, payload)
    assert response.status_code == 200, response.content
    stored = InboundEvent.objects.get(pk=response.json()["event"])
    process_event(stored.pk)
    stored.refresh_from_db()
    return stored


# --- Refusals -------------------------------------------------------------------------------


def test_missing_signature_is_refused_and_nothing_stored(client, account):
    response = post(client, account, event(), secret=None)
    assert response.status_code == 401
    assert InboundEvent.objects.count() == 0


def test_wrong_signature_is_refused_and_nothing_stored(client, account):
    assert post(client, account, event(), secret="not-the-secret").status_code == 401
    assert post(client, account, event(), signature="sha256=" + "0" * 64).status_code == 401
    assert post(client, account, event(), signature="garbage").status_code == 401
    assert InboundEvent.objects.count() == 0


def test_account_without_secret_refuses_everything(client):
    bare = ChannelAccountFactory(channel="marketplace", provider="generic")
    assert post(client, bare, event()).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_unknown_account_or_provider_is_404(client, account):
    body = json.dumps(event()).encode()
    headers = {"X-Helpdesk-Signature": sign(SECRET, body)}
    for url in (
        "/hooks/generic/00000000-0000-0000-0000-000000000000/",
        "/hooks/generic/not-a-uuid/",
        f"/hooks/nosuchprovider/{account.public_id}/",
    ):
        assert client.post(url, data=body, content_type="application/json", headers=headers).status_code == 404
    assert InboundEvent.objects.count() == 0


def test_account_of_another_provider_is_404(client, account):
    mailbox = ChannelAccountFactory(provider="mime")
    body = json.dumps(event()).encode()
    response = client.post(
        f"/hooks/generic/{mailbox.public_id}/", data=body, content_type="application/json",
        headers={"X-Helpdesk-Signature": sign(SECRET, body)},
    )
    assert response.status_code == 404


def test_body_over_the_limit_is_413_and_nothing_stored(client, account, settings):
    settings.HELPDESK_WEBHOOK_MAX_BYTES = 1000
    response = post(client, account, event(text="x" * 2000))
    assert response.status_code == 413
    assert InboundEvent.objects.count() == 0


def test_get_without_a_handshake_is_405(client, account):
    assert client.get(f"/hooks/generic/{account.public_id}/").status_code == 405


# --- Storing once, keeping failures ----------------------------------------------------------


def test_replay_is_stored_once_and_threads_once(client, account):
    payload = event()
    first = post(client, account, payload)
    second = post(client, account, payload)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["status"] == "accepted" and second.json()["status"] == "duplicate"
    assert InboundEvent.objects.count() == 1
    stored = InboundEvent.objects.get()
    assert process_event(stored.pk) == "processed"
    assert process_event(stored.pk) == "processed"  # a second delivery of the task
    assert Message.objects.count() == 1


def test_the_same_message_in_two_events_is_threaded_once(client, account):
    deliver(client, account, event("evt-1"))
    again = deliver(client, account, event("evt-2", id="m-evt-1"))  # retried under a new event id
    assert again.state == "processed"
    assert again.result == {"messages": [{"ticket_id": Ticket.objects.get().pk, "message_id": Message.objects.get().pk, "duplicate": True}]}
    assert Message.objects.count() == 1


def test_signed_event_that_cannot_be_parsed_is_kept_with_its_error(client, account):
    payload = event()
    del payload["message"]["customer"]
    stored = deliver(client, account, payload)
    assert stored.state == "failed"
    assert "message.customer: Field required" in stored.error
    assert stored.attempts == 1
    assert Message.objects.count() == 0 and Ticket.objects.count() == 0


def test_signed_body_that_is_not_json_is_kept_not_lost(client, account):
    raw = b"this is not json"
    response = post(client, account, None, raw=raw)
    assert response.status_code == 200
    stored = InboundEvent.objects.get()
    assert stored.event_id.startswith("sha256:")
    assert bytes(stored.body) == raw
    assert process_event(stored.pk) == "failed"
    stored.refresh_from_db()
    assert "invalid generic event" in stored.error


def test_unsupported_event_type_is_ignored(client, account):
    stored = deliver(client, account, {"id": "evt-9", "type": "order.updated"})
    assert stored.state == "ignored"
    assert Ticket.objects.count() == 0


def test_failed_event_can_be_reprocessed_after_a_fix(client, account, django_capture_on_commit_callbacks):
    payload = event()
    payload["message"]["customer"] = {"name": "no id"}
    stored = deliver(client, account, payload)
    assert stored.state == "failed"
    # The fix: here, the stored body is corrected as a new adapter version would read it.
    InboundEvent.objects.filter(pk=stored.pk).update(body=json.dumps(event()).encode())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert reprocess_events([stored.pk]) == 1
    assert len(callbacks) == 1  # queued for a worker
    assert process_event(stored.pk) == "processed"
    stored.refresh_from_db()
    assert (stored.state, stored.error, stored.attempts) == ("processed", "", 2)


# --- Threading -----------------------------------------------------------------------------


def test_first_message_creates_customer_identity_and_ticket(client, account):
    deliver(client, account, event())
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.channel_account, ticket.subject, ticket.status) == (
        "marketplace", account, "Unde este coletul?", "new",
    )
    customer = ticket.customer
    assert (customer.name, customer.email) == ("Ioana Marin", "ioana.marin@example.ro")
    assert sorted(customer.identities.values_list("kind", "value", "account")) == [
        ("email", "ioana.marin@example.ro", None),
        ("shop_customer", "buyer-77", account.pk),
    ]
    message = ticket.messages.get()
    assert (message.direction, message.body_text, message.external_id) == (
        "inbound", "Bună ziua, comanda mea nu a ajuns.", "m-evt-1",
    )
    assert message.inbound_event.event_id == "evt-1"


def test_same_thread_joins_the_same_ticket(client, account):
    deliver(client, account, event("evt-1"))
    deliver(client, account, event("evt-2", text="Vă rog, răspundeți."))
    assert Ticket.objects.count() == 1
    assert Ticket.objects.get().messages.count() == 2


def test_same_customer_and_order_joins_the_open_ticket(client, account):
    order = OrderFactory(store=account.store, number="EMAG-448812", customer=None)
    deliver(client, account, event("evt-1", thread_id="conv-1", order_number="EMAG-448812"))
    deliver(client, account, event("evt-2", thread_id="conv-2", order_number="EMAG-448812"))
    ticket = Ticket.objects.get()
    assert list(ticket.orders.all()) == [order]
    assert ticket.messages.count() == 2


def test_another_order_from_the_same_customer_opens_another_ticket(client, account):
    OrderFactory(store=account.store, number="EMAG-1")
    OrderFactory(store=account.store, number="EMAG-2")
    deliver(client, account, event("evt-1", thread_id="conv-1", order_number="EMAG-1"))
    deliver(client, account, event("evt-2", thread_id="conv-2", order_number="EMAG-2"))
    tickets = list(Ticket.objects.order_by("pk"))
    assert len(tickets) == 2
    assert tickets[0].customer_id == tickets[1].customer_id
    assert [t.orders.get().number for t in tickets] == ["EMAG-1", "EMAG-2"]


def test_ticket_reference_in_subject_joins_the_customers_ticket(client, account):
    deliver(client, account, event("evt-1", thread_id="conv-1"))
    ticket = Ticket.objects.get()
    deliver(client, account, event("evt-2", thread_id="", subject=f"Re: Unde este coletul? [#{ticket.pk}]"))
    assert Ticket.objects.count() == 1
    assert ticket.messages.count() == 2


def test_ticket_reference_of_someone_elses_ticket_is_not_followed(client, account):
    deliver(client, account, event("evt-1", thread_id="conv-1"))
    theirs = Ticket.objects.get()
    stranger = event("evt-2", thread_id="", subject=f"[#{theirs.pk}] let me in")
    stranger["message"]["customer"] = {"id": "buyer-99", "name": "Mallory"}
    deliver(client, account, stranger)
    assert Ticket.objects.count() == 2
    assert theirs.messages.count() == 1


def test_reply_to_a_solved_ticket_within_the_window_reopens_it(client, account):
    deliver(client, account, event("evt-1"))
    ticket = Ticket.objects.get()
    actions.change_status(ticket=ticket, status=Ticket.Status.SOLVED)
    deliver(client, account, event("evt-2", text="Still nothing."))
    ticket.refresh_from_db()
    assert Ticket.objects.count() == 1
    assert ticket.status == "open"


def test_reply_after_the_window_starts_a_linked_follow_up(client, account, settings):
    settings.HELPDESK_REOPEN_WINDOW_DAYS = 7
    deliver(client, account, event("evt-1"))
    old = Ticket.objects.get()
    actions.change_status(ticket=old, status=Ticket.Status.SOLVED)
    Ticket.objects.filter(pk=old.pk).update(solved_at=timezone.now() - timedelta(days=8))
    deliver(client, account, event("evt-2", text="A new problem."))
    old.refresh_from_db()
    follow_up = Ticket.objects.exclude(pk=old.pk).get()
    assert old.status == "solved"
    assert follow_up.follow_up_of_id == old.pk
    assert list(follow_up.messages.values_list("body_text", flat=True)) == ["A new problem."]


def test_message_to_a_merged_ticket_lands_in_the_surviving_one(client, account):
    deliver(client, account, event("evt-1"))
    source = Ticket.objects.get()
    target = actions.create_ticket(store=account.store, channel="marketplace", customer=source.customer, subject="main")
    actions.merge_tickets(source=source, target=target)
    deliver(client, account, event("evt-2"))
    assert target.messages.count() == 2


def test_same_email_on_another_channel_is_the_same_customer(client, account):
    known = Customer.objects.create(name="Ioana Marin", email="ioana.marin@example.ro")
    ChannelIdentity.objects.create(customer=known, kind="email", value="ioana.marin@example.ro")
    deliver(client, account, event())
    assert Customer.objects.count() == 1
    assert Ticket.objects.get().customer_id == known.pk
    assert known.identities.filter(kind="shop_customer", value="buyer-77").exists()


def test_message_from_a_merged_customer_goes_to_the_survivor(client, account):
    deliver(client, account, event("evt-1"))
    original = Customer.objects.get()
    survivor = Customer.objects.create(name="Ioana M.")
    actions.merge_customers(source=original, target=survivor)
    deliver(client, account, event("evt-2", thread_id="conv-new"))
    assert Ticket.objects.order_by("-pk").first().customer_id == survivor.pk


def test_hostile_html_is_stored_sanitised(client, account):
    deliver(client, account, event(html='<p>Hi</p><script>steal()</script><a href="javascript:x()">x</a>'))
    stored = Message.objects.get().body_html
    assert "<script" not in stored and "javascript:" not in stored
    assert "<p>Hi</p>" in stored


def test_attachment_is_stored(client, account):
    import base64

    payload = event(attachments=[{"filename": "factura.pdf", "content_type": "application/pdf",
                                  "content_base64": base64.b64encode(b"%PDF-1.4 demo").decode()}])
    deliver(client, account, payload)
    attachment = Message.objects.get().attachments.get()
    assert (attachment.filename, attachment.content_type, attachment.size) == ("factura.pdf", "application/pdf", 13)
    assert attachment.file.read() == b"%PDF-1.4 demo"


# --- Admin ---------------------------------------------------------------------------------


def test_admin_lists_failed_events_and_shows_the_payload_escaped(client, account, charlie):
    charlie.is_staff = charlie.is_superuser = True
    charlie.save()
    payload = event()
    payload["message"]["customer"] = {"name": "<script>alert(1)</script>"}
    stored = deliver(client, account, payload)
    client.force_login(charlie)
    listing = client.get("/admin/channels_ingest/inboundevent/?state__exact=failed")
    assert listing.status_code == 200
    assert stored.event_id.encode() in listing.content
    page = client.get(f"/admin/channels_ingest/inboundevent/{stored.pk}/change/")
    assert page.status_code == 200
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content
    assert b"<script>alert(1)</script>" not in page.content
    response = client.post(
        "/admin/channels_ingest/inboundevent/", {"action": "reprocess", "_selected_action": [stored.pk]}
    )
    assert response.status_code == 302
    stored.refresh_from_db()
    assert stored.state == "pending"
