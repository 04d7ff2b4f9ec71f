"""The agents' server-rendered pages: sign-in, inbox and ticket page, through Django's test client."""

from __future__ import annotations

import html
import re
from base64 import urlsafe_b64encode
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    PASSWORD,
    ChannelAccountFactory,
    ChannelIdentityFactory,
    CustomerFactory,
    MessageFactory,
    OrderFactory,
    OrderLineFactory,
    ShipmentFactory,
    StoreFactory,
    TicketFactory,
    UserFactory,
)
from tickets.inbox import views as inbox_views
from tickets.models import Attachment, Channel, ChannelIdentity, Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

INBOX = "/tickets/"
HOSTILE = '<p>Hi <b>there</b></p><script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a>'


def ticket_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-ticket-id="(\d+)"', response.content.decode())]


def link(response, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', response.content.decode())
    return html.unescape(found.group(1)) if found else None


# --- Signing in and out ---------------------------------------------------------------------


def test_login_page_renders(client):
    response = client.get("/login/")

    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body
    assert 'name="password"' in body
    assert 'name="csrfmiddlewaretoken"' in body
    assert '<html lang="en">' in body


def test_wrong_password_shows_an_error_and_signs_nobody_in(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert 'class="alert alert--error"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_redirects_to_the_inbox(client, alice):
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == INBOX
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_inbox_requires_login(client):
    response = client.get(INBOX)

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/tickets/"


def test_root_redirects_to_the_inbox(client, alice):
    client.force_login(alice)

    assert client.get("/")["Location"] == INBOX


def test_user_without_a_helpdesk_role_gets_403_everywhere(client, mallory):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    client.force_login(mallory)

    assert client.get(INBOX).status_code == 403
    assert client.get(reverse("tickets:detail", args=[ticket.pk])).status_code == 403
    reply = client.post(
        reverse("tickets:reply", args=[ticket.pk]), {"kind": "outbound", "body": "Hi"}
    )
    status = client.post(reverse("tickets:change_status", args=[ticket.pk]), {"status": "solved"})

    assert reply.status_code == 403
    assert status.status_code == 403
    assert Message.objects.count() == 0
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    assert not TicketEvent.objects.exists()


def test_logout_needs_post_and_ends_the_session(client, alice):
    client.force_login(alice)

    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get(INBOX).status_code == 302


def test_top_bar_shows_user_nav_and_admin_link_only_for_staff(client, alice):
    client.force_login(alice)
    body = client.get(INBOX).content.decode()

    assert "Alice" in body
    assert 'href="/api/docs/"' in body
    assert 'href="/admin/"' not in body
    assert 'action="/logout/" method="post"' in body
    assert 'action="/i18n/setlang/" method="post"' in body

    staff = UserFactory(username="stella", role="admin")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert 'href="/admin/"' in client.get(INBOX).content.decode()


def test_switching_language_sets_the_html_lang(client, alice):
    client.force_login(alice)

    response = client.post("/i18n/setlang/", {"language": "es", "next": INBOX}, follow=True)

    assert response.status_code == 200
    assert '<html lang="es">' in response.content.decode()


# --- Inbox ----------------------------------------------------------------------------------


def test_inbox_lists_newest_activity_first_with_its_columns(client, alice):
    now = timezone.now()
    old = TicketFactory(subject="Old question", updated_at=now - timedelta(days=2))
    new = TicketFactory(
        subject="Where is my mug?",
        channel=Channel.AMAZON,
        status=Ticket.Status.PENDING,
        priority=Ticket.Priority.URGENT,
        assignee=alice,
        customer=CustomerFactory(name="Dana Scully"),
        store=StoreFactory(name="Mugs & More", slug="mugs"),
        updated_at=now - timedelta(minutes=5),
    )
    client.force_login(alice)

    response = client.get(INBOX)

    assert response.status_code == 200
    assert ticket_ids(response) == [new.pk, old.pk]
    body = response.content.decode()
    assert "Where is my mug?" in body
    assert "Dana Scully" in body
    assert "Mugs &amp; More" in body
    assert 'class="badge badge--channel ch-amazon"' in body
    assert "Pending on customer" in body
    assert "Urgent" in body
    assert "5\xa0minutes ago" in body
    assert f'href="/tickets/{new.pk}/"' in body


def test_inbox_filters_by_status_and_channel(client, alice):
    open_email = TicketFactory(status=Ticket.Status.OPEN, channel=Channel.EMAIL)
    open_amazon = TicketFactory(status=Ticket.Status.OPEN, channel=Channel.AMAZON)
    pending_amazon = TicketFactory(status=Ticket.Status.PENDING, channel=Channel.AMAZON)
    solved_whatsapp = TicketFactory(status=Ticket.Status.SOLVED, channel=Channel.WHATSAPP)
    client.force_login(alice)

    assert sorted(ticket_ids(client.get(INBOX, {"status": "open"}))) == sorted(
        [open_email.pk, open_amazon.pk]
    )
    assert sorted(ticket_ids(client.get(INBOX, {"channel": "amazon"}))) == sorted(
        [open_amazon.pk, pending_amazon.pk]
    )
    assert ticket_ids(client.get(INBOX, {"status": "pending", "channel": "amazon"})) == [
        pending_amazon.pk
    ]
    assert ticket_ids(client.get(INBOX, {"status": "solved", "channel": "email"})) == []
    # An unknown value (an old bookmark) filters nothing rather than failing.
    assert len(ticket_ids(client.get(INBOX, {"status": "nonsense"}))) == 4
    assert sorted(
        ticket_ids(client.get(INBOX, {"status": "nonsense", "channel": "amazon"}))
    ) == sorted([open_amazon.pk, pending_amazon.pk])
    assert solved_whatsapp.pk in ticket_ids(client.get(INBOX, {"channel": "whatsapp"}))


def test_inbox_filter_boxes_keep_the_chosen_values(client, alice):
    client.force_login(alice)

    body = client.get(INBOX, {"status": "pending", "channel": "ebay"}).content.decode()

    assert '<option value="pending" selected>' in body
    assert '<option value="ebay" selected>' in body
    assert "No tickets match these filters." in body


def test_keyset_pagination_returns_every_ticket_exactly_once(client, alice, monkeypatch):
    monkeypatch.setattr(inbox_views, "INBOX_PAGE_SIZE", 25)
    now = timezone.now()
    # Three tickets share each timestamp, so the id tie-breaker is what keeps pages apart.
    tickets = [TicketFactory(updated_at=now - timedelta(minutes=n // 3)) for n in range(60)]
    expected = [t.pk for t in sorted(tickets, key=lambda t: (t.updated_at, t.pk), reverse=True)]
    client.force_login(alice)

    pages = []
    url: str | None = INBOX
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(ticket_ids(response))
        url = link(response, "next")

    assert [len(page) for page in pages] == [25, 25, 10]
    assert [pk for page in pages for pk in page] == expected
    assert link(response, "prev") is not None

    # And back again with the "previous" links, from the last page to the first.
    backwards = [pages[-1]]
    url = link(response, "prev")
    while url:
        response = client.get(url)
        backwards.append(ticket_ids(response))
        url = link(response, "prev")
    assert backwards[::-1] == pages


def test_deep_pages_are_read_without_offset(client, alice, monkeypatch):
    monkeypatch.setattr(inbox_views, "INBOX_PAGE_SIZE", 2)
    TicketFactory.create_batch(5)
    client.force_login(alice)
    second_page = link(client.get(INBOX), "next")

    with CaptureQueriesContext(connection) as queries:
        assert len(ticket_ids(client.get(second_page))) == 2

    ticket_queries = [q["sql"] for q in queries if 'FROM "tickets_ticket"' in q["sql"]]
    assert ticket_queries
    assert not any("OFFSET" in sql for sql in ticket_queries)


def test_keyset_pagination_keeps_the_filters_in_its_links(client, alice, monkeypatch):
    monkeypatch.setattr(inbox_views, "INBOX_PAGE_SIZE", 2)
    pending = [TicketFactory(status=Ticket.Status.PENDING) for _ in range(3)]
    TicketFactory.create_batch(3, status=Ticket.Status.OPEN)
    client.force_login(alice)

    first = client.get(INBOX, {"status": "pending"})
    next_url = link(first, "next")
    second = client.get(next_url)

    assert "status=pending" in next_url
    assert sorted(ticket_ids(first) + ticket_ids(second)) == sorted(t.pk for t in pending)
    assert link(second, "next") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        urlsafe_b64encode(b"2026-01-01T00:00:00|5").decode(),  # naive time
        urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|99999999999999999999").decode(),
        urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_malformed_cursor_starts_from_the_newest_ticket(client, alice, cursor):
    ticket = TicketFactory()
    client.force_login(alice)

    response = client.get(INBOX, {"after": cursor})

    assert response.status_code == 200
    assert ticket_ids(response) == [ticket.pk]


def test_inbox_queries_do_not_grow_with_the_page(client, alice, django_assert_max_num_queries):
    for n in range(30):
        TicketFactory(
            store=StoreFactory(),
            customer=CustomerFactory(),
            assignee=UserFactory(username=f"agent{n}", role="agent"),
        )
    client.force_login(alice)

    # session, user, agent profile, visibility (2), saved views, the page of tickets, their tags, the
    # sidebar counts (one statement), filter choices (stores, teams, tags), agents to assign to, the
    # unread notifications count: no query per row (tests/test_inbox_queries.py compares 5 and 60 rows).
    with django_assert_max_num_queries(15):
        response = client.get(INBOX)
    assert len(ticket_ids(response)) == 30


# --- Ticket page ----------------------------------------------------------------------------


@pytest.fixture
def ticket_with_order(db):
    store = StoreFactory(name="Cosy Mugs", slug="cosy-mugs")
    customer = CustomerFactory(
        name="Maria López", email="maria@example.org", phone="+34600111222", language="es"
    )
    ChannelIdentityFactory(
        customer=customer, kind=ChannelIdentity.Kind.EMAIL, value="maria@example.org"
    )
    ChannelIdentityFactory(
        customer=customer,
        kind=ChannelIdentity.Kind.WHATSAPP,
        value="34600111222",
        account=ChannelAccountFactory(
            store=store, channel=Channel.WHATSAPP, display_name="Cosy WhatsApp"
        ),
    )
    order = OrderFactory(
        store=store,
        customer=customer,
        number="#1042",
        currency="EUR",
        status="shipped",
        subtotal=Decimal("44.90"),
        shipping_total=Decimal("5.00"),
        total=Decimal("49.90"),
    )
    OrderLineFactory(
        order=order, title="Blue ceramic mug", sku="MUG-BLUE", quantity=2, total=Decimal("44.90")
    )
    ShipmentFactory(
        order=order,
        carrier="DHL",
        tracking_number="JD014600006281230",
        tracking_url="https://www.dhl.com/track?id=JD014600006281230",
    )
    ticket = TicketFactory(store=store, customer=customer, subject="My mug arrived broken")
    ticket.orders.add(order)
    return ticket


def test_ticket_page_shows_the_conversation_oldest_first(client, alice, ticket_with_order):
    ticket = ticket_with_order
    now = timezone.now()
    # Created out of order on purpose: the page orders by time, not by insertion.
    reply = MessageFactory(
        ticket=ticket,
        direction=Message.Direction.OUTBOUND,
        author_type=Message.AuthorType.AGENT,
        author_user=alice,
        author_customer=None,
        body_text="Sorry! A new one is on its way.",
        delivery_state=Message.DeliveryState.SENT,
        created_at=now - timedelta(hours=1),
    )
    first = MessageFactory(
        ticket=ticket, body_text="The handle came off.", created_at=now - timedelta(hours=3)
    )
    note = MessageFactory(
        ticket=ticket,
        direction=Message.Direction.NOTE,
        author_type=Message.AuthorType.AGENT,
        author_user=alice,
        author_customer=None,
        body_text="Refund approved by the manager.",
        created_at=now - timedelta(hours=2),
    )
    client.force_login(alice)

    response = client.get(reverse("tickets:detail", args=[ticket.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    positions = [body.index(f'id="message-{m.pk}"') for m in (first, note, reply)]
    assert positions == sorted(positions)
    assert f'id="message-{first.pk}" class="msg msg--inbound"' in body
    assert f'id="message-{note.pk}" class="msg msg--note"' in body
    assert f'id="message-{reply.pk}" class="msg msg--outbound"' in body
    assert "Internal note" in body
    assert 'class="badge badge--delivery dl-sent"' in body
    assert "Maria López" in body
    assert "My mug arrived broken" in body


def test_ticket_page_shows_customer_and_order_panel(client, alice, ticket_with_order):
    client.force_login(alice)

    body = client.get(reverse("tickets:detail", args=[ticket_with_order.pk])).content.decode()

    assert "maria@example.org" in body
    assert "+34600111222" in body
    assert "Spanish" in body
    assert "WhatsApp id" in body
    assert "Cosy WhatsApp" in body
    assert "#1042" in body
    assert "Blue ceramic mug" in body
    assert "MUG-BLUE" in body
    assert "49.90 EUR" in body
    assert "Shipped" in body
    assert "DHL" in body
    assert 'href="https://www.dhl.com/track?id=JD014600006281230"' in body
    assert "JD014600006281230" in body


def test_tracking_links_that_are_not_http_are_not_clickable(client, alice, ticket_with_order):
    order = ticket_with_order.orders.get()
    ShipmentFactory(order=order, tracking_number="EVIL1", tracking_url="javascript:alert(1)")
    client.force_login(alice)

    body = client.get(reverse("tickets:detail", args=[ticket_with_order.pk])).content.decode()

    assert "EVIL1" in body
    assert "javascript:" not in body


def test_ticket_page_queries_do_not_grow_with_messages(
    client, alice, ticket_with_order, django_assert_max_num_queries
):
    for _ in range(15):
        MessageFactory(ticket=ticket_with_order)
    client.force_login(alice)

    # A fixed set: session and user, the agent's visibility, the ticket, the conversation and its
    # attachments, the customer panel (identities, previous tickets, survey answers, lifetime
    # value), the order panel (orders, lines, shipments, refunds, other orders, actions taken),
    # the composer (last message, canned responses), the timeline, links, agents, teams, tags,
    # the inbox neighbours and the unread notifications count. tests/test_ticket_page.py checks
    # that 3 and 60 messages cost the same.
    with django_assert_max_num_queries(34):
        response = client.get(reverse("tickets:detail", args=[ticket_with_order.pk]))
    assert response.content.decode().count('class="msg msg--inbound"') == 15


def test_hostile_html_never_reaches_the_page_unsanitised(client, alice):
    ticket = TicketFactory()
    saved = MessageFactory(ticket=ticket, body_html=HOSTILE)
    # A row written without Message.save (a bulk update) must be just as harmless.
    bypassed = MessageFactory(ticket=ticket)
    Message.objects.filter(pk=bypassed.pk).update(body_html=HOSTILE)
    client.force_login(alice)

    body = client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()

    # The page's own scripts are files (<script src=...>); nothing inline, nothing from the message.
    assert re.findall(r"<script(?![^>]*\bsrc=\"/static/)", body.lower()) == []
    assert "onerror" not in body.lower()
    assert "alert(1)" not in body
    assert "javascript:" not in body
    assert body.count("<iframe ") == 2
    for iframe in re.findall(r"<iframe [^>]*>", body):
        assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in iframe
        assert "allow-scripts" not in iframe
        assert "allow-same-origin" not in iframe
        # The message is inside the attribute, escaped: none of it is markup of this page.
        assert 'srcdoc="&lt;!doctype html&gt;' in iframe
        assert "&lt;b&gt;there&lt;/b&gt;" in iframe
    assert saved.body_html.startswith("<p>Hi <b>there</b></p>")


def test_plain_text_messages_are_escaped_with_line_breaks(client, alice):
    ticket = TicketFactory()
    MessageFactory(ticket=ticket, body_text="Line one\n<b>not bold</b>")
    client.force_login(alice)

    body = client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()

    assert "Line one<br>&lt;b&gt;not bold&lt;/b&gt;" in body


def test_attachments_are_listed_and_downloaded_only_by_agents(
    client, alice, mallory, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    message = MessageFactory()
    attachment = Attachment(
        message=message, filename="invoice.pdf", content_type="application/pdf", size=2048
    )
    attachment.file.save("invoice.pdf", ContentFile(b"%PDF-1.4 test"), save=True)
    client.force_login(alice)

    body = client.get(reverse("tickets:detail", args=[message.ticket_id])).content.decode()
    download = client.get(reverse("tickets:attachment", args=[attachment.pk]))

    assert "invoice.pdf" in body
    assert "2.0\xa0KB" in body
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
    assert b"".join(download.streaming_content) == b"%PDF-1.4 test"
    client.force_login(mallory)
    assert client.get(reverse("tickets:attachment", args=[attachment.pk])).status_code == 403


def test_unknown_ticket_is_404(client, alice):
    client.force_login(alice)

    assert client.get(reverse("tickets:detail", args=[999999])).status_code == 404


# --- Forms on the ticket page ---------------------------------------------------------------


def test_reply_form_queues_an_outbound_message(client, alice):
    ticket = TicketFactory(status=Ticket.Status.NEW)
    client.force_login(alice)

    response = client.post(
        reverse("tickets:reply", args=[ticket.pk]),
        {"kind": "outbound", "body": "  Your parcel left today.  "},
    )

    message = Message.objects.get(ticket=ticket)
    assert response.status_code == 302
    assert response["Location"] == f"/tickets/{ticket.pk}/#message-{message.pk}"
    assert message.direction == Message.Direction.OUTBOUND
    assert message.delivery_state == Message.DeliveryState.QUEUED
    assert message.author_user == alice
    assert message.body_text == "Your parcel left today."
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    assert ticket.first_response_at == message.created_at
    page = client.get(response["Location"]).content.decode()
    assert "Reply queued for sending." in page
    assert 'class="badge badge--delivery dl-queued"' in page


def test_internal_note_is_not_a_response(client, alice):
    ticket = TicketFactory(status=Ticket.Status.NEW)
    client.force_login(alice)

    client.post(
        reverse("tickets:reply", args=[ticket.pk]), {"kind": "note", "body": "Customer called too."}
    )

    message = Message.objects.get(ticket=ticket)
    assert message.direction == Message.Direction.NOTE
    assert message.delivery_state == Message.DeliveryState.RECEIVED
    ticket.refresh_from_db()
    assert ticket.first_response_at is None
    assert ticket.status == Ticket.Status.NEW


def test_empty_reply_is_refused_and_stores_nothing(client, alice):
    ticket = TicketFactory()
    client.force_login(alice)

    response = client.post(
        reverse("tickets:reply", args=[ticket.pk]), {"kind": "outbound", "body": "   "}
    )

    assert response.status_code == 400
    assert 'class="field__error"' in response.content.decode()
    assert not Message.objects.exists()


def test_reply_needs_post(client, alice):
    ticket = TicketFactory()
    client.force_login(alice)

    assert client.get(reverse("tickets:reply", args=[ticket.pk])).status_code == 405


def test_status_form_changes_status_and_records_an_event(client, alice):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    client.force_login(alice)

    response = client.post(reverse("tickets:change_status", args=[ticket.pk]), {"status": "solved"})

    assert response.status_code == 302
    assert response["Location"] == f"/tickets/{ticket.pk}/"
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.SOLVED
    assert ticket.solved_at is not None
    event = TicketEvent.objects.get(ticket=ticket)
    assert event.kind == TicketEvent.Kind.STATUS_CHANGED
    assert event.actor == alice
    assert event.data == {"from": "open", "to": "solved"}
    assert "Status changed to Solved." in client.get(response["Location"]).content.decode()


def test_unknown_status_is_refused_and_changes_nothing(client, alice):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    client.force_login(alice)

    response = client.post(
        reverse("tickets:change_status", args=[ticket.pk]), {"status": "deleted"}
    )

    assert response.status_code == 400
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    assert not TicketEvent.objects.exists()


@pytest.mark.django_db
def test_pages_render_with_the_production_static_manifest(client, settings, alice):
    """`make test` runs collectstatic as a deploy does; every {% static %} a page uses must be in
    the manifest, or production answers 500."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage"},
    }
    assert client.get("/login/").status_code == 200
    client.force_login(alice)
    inbox = client.get("/tickets/")
    assert inbox.status_code == 200
    assert b"/static/helpdesk/app." in inbox.content
