"""The ticket page: the customer's conversation across channels, the side panel, the composer's
checks (stale composer, reply windows, Amazon), canned responses, mentions, and its query count."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from surveys.models import Survey, SurveyAnswer
from tests.factories import (
    CannedResponseFactory,
    ChannelAccountFactory,
    ChannelIdentityFactory,
    CustomerFactory,
    MessageFactory,
    OrderFactory,
    OrderLineFactory,
    ShipmentFactory,
    StoreFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
    agent_of,
)
from tickets import actions, ticket_page
from tickets.models import (
    Attachment,
    Channel,
    ChannelIdentity,
    Message,
    Notification,
    Ticket,
    TicketEvent,
)

pytestmark = pytest.mark.django_db


def detail(ticket: Ticket, **params: str) -> str:
    url = reverse("tickets:detail", args=[ticket.pk])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def page(client, ticket: Ticket, **params: str) -> str:
    response = client.get(detail(ticket, **params))
    assert response.status_code == 200
    return response.content.decode()


def reply_url(ticket: Ticket) -> str:
    return reverse("tickets:reply", args=[ticket.pk])


def message_ids(body: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li id="message-(\d+)"', body)]


def agent_reply(ticket: Ticket, user, text: str = "On its way.", **fields) -> Message:
    return MessageFactory(ticket=ticket, direction=Message.Direction.OUTBOUND, author_type=Message.AuthorType.AGENT,
                          author_user=user, author_customer=None, body_text=text, **fields)


# --- Conversation ---------------------------------------------------------------------------


@pytest.fixture
def customer_on_two_channels(db):
    store = StoreFactory()
    customer = CustomerFactory(name="Maria López")
    now = timezone.now()
    email = TicketFactory(store=store, customer=customer, channel=Channel.EMAIL, subject="Broken mug")
    chat = TicketFactory(store=store, customer=customer, channel=Channel.WHATSAPP, subject="Delivery date")
    first = MessageFactory(ticket=email, body_text="The handle came off.", created_at=now - timedelta(hours=5))
    other = MessageFactory(ticket=chat, body_text="When does it arrive?", created_at=now - timedelta(hours=4))
    last = MessageFactory(ticket=email, body_text="Any news?", created_at=now - timedelta(hours=1))
    return {"store": store, "customer": customer, "email": email, "chat": chat,
            "first": first, "other": other, "last": last}


def test_conversation_shows_every_channel_of_the_customer_oldest_first(client, alice, customer_on_two_channels):
    data = customer_on_two_channels
    client.force_login(alice)

    body = page(client, data["email"])

    assert message_ids(body) == [data["first"].pk, data["other"].pk, data["last"].pk]
    other = body[body.index(f'id="message-{data["other"].pk}"'):]
    other = other[: other.index("</li>")]
    assert "msg--elsewhere" in other
    assert f'On ticket <a href="/tickets/{data["chat"].pk}/">#{data["chat"].pk} Delivery date</a>' in other
    assert 'class="badge badge--channel ch-whatsapp"' in other
    mine = body[body.index(f'id="message-{data["first"].pk}"'):]
    assert mine.startswith(f'id="message-{data["first"].pk}" class="msg msg--inbound" ')


def test_this_ticket_only_leaves_the_other_conversations_out(client, alice, customer_on_two_channels):
    data = customer_on_two_channels
    client.force_login(alice)

    body = page(client, data["email"], scope="ticket")

    assert message_ids(body) == [data["first"].pk, data["last"].pk]
    assert 'aria-current="true">This ticket only</a>' in body


def test_another_stores_conversations_of_the_same_person_stay_hidden(client, customer_on_two_channels):
    data = customer_on_two_channels
    elsewhere = TicketFactory(store=StoreFactory(), customer=data["customer"], subject="Secret store")
    hidden = MessageFactory(ticket=elsewhere, body_text="Other store's message")
    client.force_login(agent_of(data["store"]))

    body = page(client, data["email"])

    assert hidden.pk not in message_ids(body)
    assert "Secret store" not in body
    assert "Other store&#x27;s message" not in body


def test_older_messages_come_page_by_page(client, alice, monkeypatch):
    monkeypatch.setattr(ticket_page, "CONVERSATION_PAGE_SIZE", 3)
    ticket = TicketFactory()
    now = timezone.now()
    created = [MessageFactory(ticket=ticket, body_text=f"Message {n}", created_at=now - timedelta(minutes=10 - n))
               for n in range(5)]
    client.force_login(alice)

    newest = page(client, ticket)
    older_link = re.search(r'href="([^"]+)" rel="prev">Show older messages', newest).group(1).replace("&amp;", "&")
    older = client.get(older_link).content.decode()

    assert message_ids(newest) == [m.pk for m in created[2:]]
    assert message_ids(older) == [m.pk for m in created[:2]]
    assert "Show older messages" not in older
    assert "Back to the newest messages" in older


def test_outbound_messages_show_their_delivery_state_and_receipts(client, alice):
    ticket = TicketFactory(channel=Channel.WHATSAPP)
    read = agent_reply(ticket, alice, delivery_state=Message.DeliveryState.READ,
                       metadata={"delivery": {"sent": "2026-11-20T10:00:00+00:00",
                                              "delivered": "2026-11-20T10:00:05+00:00",
                                              "read": "2026-11-20T10:03:00+00:00"}})
    queued = agent_reply(ticket, alice, delivery_state=Message.DeliveryState.QUEUED)
    note = MessageFactory(ticket=ticket, direction=Message.Direction.NOTE, author_type=Message.AuthorType.AGENT,
                          author_user=alice, author_customer=None, body_text="Internal only")
    client.force_login(alice)

    body = page(client, ticket)

    read_item = body[body.index(f'id="message-{read.pk}"'):]
    read_item = read_item[: read_item.index("</li>")]
    assert 'class="badge badge--delivery dl-read"' in read_item
    assert re.findall(r'data-state="(\w+)"', read_item) == ["sent", "delivered", "read"]
    assert 'class="badge badge--delivery dl-queued"' in body
    note_item = body[body.index(f'id="message-{note.pk}"'):]
    assert note_item.startswith(f'id="message-{note.pk}" class="msg msg--note"')
    assert "dl-" not in note_item[: note_item.index("</li>")]
    assert queued.pk in message_ids(body)


# --- Side panel -----------------------------------------------------------------------------


def test_side_panel_shows_identities_local_time_history_value_and_surveys(client, alice):
    store = StoreFactory()
    customer = CustomerFactory(name="Ana Pop", language="ro", time_zone="", country="RO")
    ChannelIdentityFactory(customer=customer, kind=ChannelIdentity.Kind.EMAIL, value="ana@example.ro")
    ChannelIdentityFactory(customer=customer, kind=ChannelIdentity.Kind.WHATSAPP, value="40722111222")
    earlier = TicketFactory(store=store, customer=customer, subject="Wrong size", status=Ticket.Status.SOLVED)
    ticket = TicketFactory(store=store, customer=customer, subject="Another question")
    OrderFactory(store=store, customer=customer, total=Decimal("120.00"), currency="RON")
    OrderFactory(store=store, customer=customer, total=Decimal("30.00"), currency="RON")
    survey = Survey.objects.create(ticket=earlier, store=store, customer=customer, channel=Channel.EMAIL,
                                   due_at=timezone.now())
    SurveyAnswer.objects.create(survey=survey, kind="csat", score=2, comment="Slow answer", store=store,
                                channel=Channel.EMAIL, ticket=earlier, customer=customer)
    client.force_login(alice)

    body = page(client, ticket)

    assert "ana@example.ro" in body and "40722111222" in body
    assert "Romanian" in body
    assert "Europe/Bucharest (from the country)" in body
    assert f'href="/tickets/{earlier.pk}/">#{earlier.pk} Wrong size</a>' in body
    assert 'class="badge badge--status st-solved"' in body
    assert "150.00 RON" in body
    assert re.search(r"<dt>Orders</dt><dd>2</dd>", body)
    assert 'data-survey-kind="csat"' in body and ">CSAT 2<" in body
    previous = body[body.index('class="previous-tickets'):]
    assert '<span class="badge" title="CSAT (satisfaction, 1–5)">CSAT 2</span>' in previous[: previous.index("</ul>")]
    assert "Slow answer" in body


def test_local_time_prefers_the_customers_own_time_zone():
    customer = CustomerFactory.build(time_zone="America/Mexico_City", country="ES")
    now = timezone.now()

    local = ticket_page.local_time(customer, now=now)

    assert (local.zone, local.from_country) == ("America/Mexico_City", False)
    assert local.now == now
    assert ticket_page.local_time(CustomerFactory.build(time_zone="Mars/Olympus", country="")) is None
    assert ticket_page.local_time(CustomerFactory.build(time_zone="", country="")) is None


# --- Markup contract --------------------------------------------------------------------------


def test_page_offers_the_contracted_controls(client, alice):
    ticket = TicketFactory()
    MessageFactory(ticket=ticket)
    latest = MessageFactory(ticket=ticket)
    client.force_login(alice)

    body = page(client, ticket)

    assert 'id="composer-body"' in body
    assert 'data-composer-mode="reply"' in body and 'data-composer-mode="note"' in body
    assert f'<input type="hidden" name="last_seen_message_id" value="{latest.pk}"' in body
    assert 'data-action="assign-me"' in body
    assert re.search(r'<select name="status" class="select" id="ticket-status"', body)
    assert 'data-action="status"' in body
    assert 'enctype="multipart/form-data"' in body


# --- Query count ----------------------------------------------------------------------------


def _busy_ticket(messages: int, *, orders: int, identities: int, alice) -> Ticket:
    store = StoreFactory()
    customer = CustomerFactory(time_zone="Europe/Madrid")
    ticket = TicketFactory(store=store, customer=customer)
    for n in range(identities):
        ChannelIdentityFactory(customer=customer, kind=ChannelIdentity.Kind.PHONE, value=f"+34{messages:03d}00{n:04d}")
    for _ in range(orders):
        order = OrderFactory(store=store, customer=customer)
        OrderLineFactory(order=order)
        ShipmentFactory(order=order)
        ticket.orders.add(order)
    other = TicketFactory(store=store, customer=customer)
    for n in range(messages):
        target = other if n % 5 == 4 else ticket
        if n % 3 == 0:
            message = MessageFactory(ticket=target)
        elif n % 3 == 1:
            message = agent_reply(target, alice, delivery_state=Message.DeliveryState.DELIVERED)
        else:
            message = MessageFactory(ticket=target, direction=Message.Direction.NOTE,
                                     author_type=Message.AuthorType.AGENT, author_user=alice, author_customer=None)
        attachment = Attachment(message=message, filename=f"photo{n}.txt", content_type="text/plain", size=4)
        attachment.file.save(f"photo{n}.txt", ContentFile(b"data"), save=True)
        TicketEvent.objects.create(ticket=ticket, kind=TicketEvent.Kind.STATUS_CHANGED, actor=alice,
                                   data={"from": "open", "to": "pending"})
        TicketEvent.objects.create(ticket=ticket, kind=TicketEvent.Kind.ASSIGNED, actor=alice,
                                   data={"from": None, "to": alice.pk})
    return ticket


def test_ticket_page_queries_do_not_grow_with_messages_orders_or_identities(client, alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    small = _busy_ticket(3, orders=1, identities=1, alice=alice)
    large = _busy_ticket(60, orders=6, identities=8, alice=alice)
    client.force_login(alice)
    client.get(detail(small))  # the session and caches warm up alike for both

    with CaptureQueriesContext(connection) as few:
        assert client.get(detail(small)).status_code == 200
    with CaptureQueriesContext(connection) as many:
        response = client.get(detail(large))

    assert response.status_code == 200
    assert len(message_ids(response.content.decode())) == 50  # one page of the conversation
    assert len(many.captured_queries) == len(few.captured_queries), [q["sql"] for q in many.captured_queries]
    assert len(many.captured_queries) <= 40


# --- Composer: the stale-composer refusal -------------------------------------------------------


def test_reply_is_held_back_when_the_customer_wrote_meanwhile(client, alice):
    ticket = TicketFactory()
    seen = MessageFactory(ticket=ticket, body_text="Where is it?")
    newer = MessageFactory(ticket=ticket, body_text="Never mind, it arrived!")
    client.force_login(alice)

    response = client.post(reply_url(ticket), {"kind": "outbound", "body": "It ships tomorrow.",
                                               "last_seen_message_id": seen.pk})

    assert response.status_code == 409
    assert Message.objects.filter(ticket=ticket).count() == 2
    body = response.content.decode()
    assert "Not sent: new messages arrived while you wrote. Read them, then send anyway?" in body
    assert f'<a href="#message-{newer.pk}">The customer wrote</a>: Never mind, it arrived!' in body
    assert '<input type="checkbox" name="confirm_newer"' in body
    assert ">\nIt ships tomorrow.</textarea>" in body


def test_a_held_back_reply_names_the_attachments_to_choose_again(client, alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    ticket = TicketFactory()
    seen = MessageFactory(ticket=ticket)
    MessageFactory(ticket=ticket)
    client.force_login(alice)

    response = client.post(reply_url(ticket), {
        "kind": "outbound", "body": "Label attached.", "last_seen_message_id": seen.pk,
        "attachments": [SimpleUploadedFile("label.pdf", b"%PDF", content_type="application/pdf")]})

    assert response.status_code == 409
    assert "Choose these files again before sending: label.pdf" in response.content.decode()
    assert not Attachment.objects.exists()


def test_reply_is_held_back_when_another_agent_answered_meanwhile(client, alice):
    colleague = UserFactory(username="bruno", role="agent", first_name="Bruno", last_name="Díaz")
    ticket = TicketFactory()
    seen = MessageFactory(ticket=ticket)
    agent_reply(ticket, colleague, "Done, refunded.")
    client.force_login(alice)

    response = client.post(reply_url(ticket), {"kind": "outbound", "body": "I will refund you.",
                                               "last_seen_message_id": seen.pk})

    assert response.status_code == 409
    assert "Bruno Díaz replied</a>: Done, refunded." in response.content.decode()
    assert not Message.objects.filter(body_text="I will refund you.").exists()


def test_send_anyway_sends_after_the_warning(client, alice):
    ticket = TicketFactory()
    seen = MessageFactory(ticket=ticket)
    MessageFactory(ticket=ticket)
    client.force_login(alice)

    response = client.post(reply_url(ticket), {"kind": "outbound", "body": "Sending anyway.",
                                               "last_seen_message_id": seen.pk, "confirm_newer": "on"})

    assert response.status_code == 302
    assert Message.objects.get(body_text="Sending anyway.").direction == Message.Direction.OUTBOUND


def test_a_note_is_never_held_back_by_newer_messages(client, alice):
    ticket = TicketFactory()
    seen = MessageFactory(ticket=ticket)
    MessageFactory(ticket=ticket, body_text="New customer message")
    client.force_login(alice)

    response = client.post(reply_url(ticket), {"kind": "note", "body": "Checked with the warehouse.",
                                               "last_seen_message_id": seen.pk})

    assert response.status_code == 302
    assert Message.objects.filter(direction=Message.Direction.NOTE).count() == 1


def test_own_replies_notes_and_auto_replies_do_not_hold_a_reply_back(client, alice):
    colleague = UserFactory(role="agent")
    ticket = TicketFactory()
    seen = MessageFactory(ticket=ticket)
    agent_reply(ticket, alice, "My earlier reply")
    MessageFactory(ticket=ticket, direction=Message.Direction.NOTE, author_type=Message.AuthorType.AGENT,
                   author_user=colleague, author_customer=None)
    MessageFactory(ticket=ticket, is_auto_reply=True, body_text="Out of office")
    client.force_login(alice)

    response = client.post(reply_url(ticket), {"kind": "outbound", "body": "Follow-up.",
                                               "last_seen_message_id": seen.pk})

    assert response.status_code == 302


# --- Composer: send and set status, attachments, other channels ---------------------------------


def test_send_and_set_status_in_one_action(client, alice):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    client.force_login(alice)

    response = client.post(reply_url(ticket), {"kind": "outbound", "body": "Here is your refund.",
                                               "then_status": "solved", "last_seen_message_id": "0"})

    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.SOLVED
    message = Message.objects.get(ticket=ticket)
    assert message.delivery_state == Message.DeliveryState.QUEUED
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.STATUS_CHANGED)
    assert (event.actor, event.data) == (alice, {"from": "open", "to": "solved"})
    followed = client.get(response["Location"]).content.decode()
    assert "Reply queued for sending." in followed and "Status changed to Solved." in followed


def test_note_and_set_pending(client, alice):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    client.force_login(alice)

    client.post(reply_url(ticket), {"kind": "note", "body": "Waiting for the warehouse.", "then_status": "pending"})

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.PENDING
    assert Message.objects.get(ticket=ticket).direction == Message.Direction.NOTE


def test_attachments_are_uploaded_with_the_reply(client, alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    ticket = TicketFactory()
    client.force_login(alice)

    response = client.post(reply_url(ticket), {
        "kind": "outbound", "body": "The label is attached.",
        "attachments": [SimpleUploadedFile("label.pdf", b"%PDF-1.4 label", content_type="application/pdf"),
                        SimpleUploadedFile("photo.png", b"\x89PNG....", content_type="image/png")],
    })

    assert response.status_code == 302
    message = Message.objects.get(ticket=ticket)
    stored = list(message.attachments.order_by("filename").values_list("filename", "content_type", "size"))
    assert stored == [("label.pdf", "application/pdf", 14), ("photo.png", "image/png", 8)]
    assert message.attachments.get(filename="label.pdf").file.read() == b"%PDF-1.4 label"


def test_attachments_over_the_limit_are_refused_and_nothing_is_stored(client, alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.ATTACHMENT_MAX_BYTES = 10
    ticket = TicketFactory()
    client.force_login(alice)

    response = client.post(reply_url(ticket), {
        "kind": "outbound", "body": "Too big.",
        "attachments": [SimpleUploadedFile("big.pdf", b"x" * 11, content_type="application/pdf")],
    })

    assert response.status_code == 400
    assert "The attachments are larger than 10\xa0bytes together." in response.content.decode()
    assert not Message.objects.exists() and not Attachment.objects.exists()


def test_reply_can_go_out_on_another_channel_of_the_customer(client, alice):
    store = StoreFactory()
    customer = CustomerFactory()
    whatsapp_account = ChannelAccountFactory(store=store, channel=Channel.WHATSAPP, provider="whatsapp",
                                             display_name="Shop WhatsApp")
    identity = ChannelIdentityFactory(customer=customer, kind=ChannelIdentity.Kind.WHATSAPP, value="34600111222")
    ticket = TicketFactory(store=store, customer=customer, channel=Channel.EMAIL)
    # The customer wrote on WhatsApp an hour ago, so its reply window is open.
    other = TicketFactory(store=store, customer=customer, channel=Channel.WHATSAPP, channel_account=whatsapp_account)
    MessageFactory(ticket=other, channel_account=whatsapp_account, created_at=timezone.now() - timedelta(hours=1))
    client.force_login(alice)

    body = page(client, ticket)
    response = client.post(reply_url(ticket), {"kind": "outbound", "body": "Also on WhatsApp.",
                                               "send_via": str(identity.pk)})

    assert f'<option value="{identity.pk}">WhatsApp: 34600111222</option>' in body
    assert response.status_code == 302
    message = Message.objects.get(body_text="Also on WhatsApp.")
    assert (message.ticket_id, message.channel, message.channel_account_id, message.external_thread_id) == (
        ticket.pk, Channel.WHATSAPP, whatsapp_account.pk, "34600111222")


# --- Composer: reply windows and channel rules ------------------------------------------------


@pytest.fixture
def whatsapp_ticket(db):
    account = ChannelAccountFactory(channel=Channel.WHATSAPP, provider="whatsapp")
    ticket = TicketFactory(store=account.store, channel=Channel.WHATSAPP, channel_account=account,
                           external_thread_id="34600999888")
    return ticket


def test_reply_outside_the_whatsapp_window_is_held_back_with_a_warning(client, alice, whatsapp_ticket):
    MessageFactory(ticket=whatsapp_ticket, created_at=timezone.now() - timedelta(hours=30))
    client.force_login(alice)

    response = client.post(reply_url(whatsapp_ticket), {"kind": "outbound", "body": "Sorry for the wait."})

    assert response.status_code == 200
    body = response.content.decode()
    assert ("Not sent:</strong> The reply window closed: the provider will refuse a reply until the customer "
            "writes again.") in body
    assert '<input type="checkbox" name="confirm_window"' in body
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()

    confirmed = client.post(reply_url(whatsapp_ticket), {"kind": "outbound", "body": "Sorry for the wait.",
                                                         "confirm_window": "on"})
    assert confirmed.status_code == 302
    assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 1


def test_reply_inside_the_window_and_notes_outside_it_go_straight_through(client, alice, whatsapp_ticket):
    MessageFactory(ticket=whatsapp_ticket, created_at=timezone.now() - timedelta(hours=30))
    client.force_login(alice)

    note = client.post(reply_url(whatsapp_ticket), {"kind": "note", "body": "Customer is travelling."})
    MessageFactory(ticket=whatsapp_ticket, created_at=timezone.now() - timedelta(minutes=5))
    answer = client.post(reply_url(whatsapp_ticket), {"kind": "outbound", "body": "Thanks!"})

    assert (note.status_code, answer.status_code) == (302, 302)


def test_sms_reply_to_a_customer_who_texted_stop_is_held_back(client, alice):
    account = ChannelAccountFactory(channel=Channel.SMS, provider="twilio")
    ticket = TicketFactory(store=account.store, channel=Channel.SMS, channel_account=account,
                           external_thread_id="+34600555444")
    ChannelIdentity.objects.create(customer=ticket.customer, kind=ChannelIdentity.Kind.PHONE, value="+34600555444",
                                   opted_out_at=timezone.now())
    client.force_login(alice)

    response = client.post(reply_url(ticket), {"kind": "outbound", "body": "Your order shipped."})

    assert response.status_code == 200
    assert "The customer texted STOP: the reply will not be sent until they text START." in response.content.decode()
    assert not Message.objects.exists()


# --- Canned responses -------------------------------------------------------------------------


@pytest.fixture
def canned_ticket(db):
    store = StoreFactory(name="Cosy Mugs")
    customer = CustomerFactory(name="Maria López")
    ticket = TicketFactory(store=store, customer=customer, language="en")
    order = OrderFactory(store=store, customer=customer, number="#1042")
    ShipmentFactory(order=order, tracking_number="JD0001")
    ticket.orders.add(order)
    return ticket


def test_canned_response_preview_fills_the_variables_before_insertion(client, alice, canned_ticket):
    canned = CannedResponseFactory(title="Where is my order", body=(
        "Hi {{ customer_first_name }}, order {{ order_number }} is on its way: {{ tracking_number }}. "
        "{{ unknown_thing }} — {{ agent_first_name }}, {{ store_name }}"))
    client.force_login(alice)

    body = page(client, canned_ticket, canned=str(canned.pk))
    preview = client.get(reverse("tickets:canned_preview", args=[canned_ticket.pk, canned.pk])).json()

    filled = "Hi Maria, order #1042 is on its way: JD0001. {{ unknown_thing }} — Alice, Cosy Mugs"
    assert preview == {"id": canned.pk, "title": "Where is my order", "text": filled}
    assert f"<pre class=\"canned__text\" data-canned-preview-text>{filled}</pre>" in body
    assert f">\n{filled}</textarea>" in body  # inserted into the composer, to edit before sending


def test_canned_responses_are_searched_by_title_within_the_store(client, alice, canned_ticket):
    CannedResponseFactory(title="Refund accepted")
    CannedResponseFactory(title="Refund refused", store=canned_ticket.store)
    CannedResponseFactory(title="Shipping times")
    foreign = CannedResponseFactory(title="Refund other shop", store=StoreFactory())
    client.force_login(alice)

    found = client.get(reverse("tickets:canned_search", args=[canned_ticket.pk]), {"q": "refund"}).json()
    foreign_preview = client.get(reverse("tickets:canned_preview", args=[canned_ticket.pk, foreign.pk]))

    assert [row["title"] for row in found["results"]] == ["Refund accepted", "Refund refused"]
    assert foreign_preview.status_code == 404


# --- Mentions ---------------------------------------------------------------------------------


def test_mentions_in_a_note_notify_only_agents_who_can_see_the_ticket(client):
    store = StoreFactory()
    author = agent_of(store, username="alice")
    colleague = agent_of(store, username="bruno")
    outsider = agent_of(StoreFactory(), username="carla")
    ticket = TicketFactory(store=store)
    client.force_login(author)

    response = client.post(reply_url(ticket), {
        "kind": "note", "body": "@bruno can you check? @carla too. @alice (me) @nobody"})

    assert response.status_code == 302
    notes = list(Notification.objects.values_list("recipient__username", "kind", "ticket_id"))
    assert notes == [("bruno", "mention", ticket.pk)]
    assert Notification.objects.get().text.startswith(f"Alice mentioned you on ticket #{ticket.pk}: @bruno")
    assert Message.objects.get(ticket=ticket).metadata["mentions"] == [colleague.pk]
    assert outsider.pk not in Message.objects.get(ticket=ticket).metadata["mentions"]
    body = page(client, ticket)
    assert '<strong class="mention">@bruno</strong> can you check? @carla too.' in body


def test_mentions_in_a_reply_notify_nobody(client, alice):
    UserFactory(username="bruno", role="agent")
    ticket = TicketFactory()
    client.force_login(alice)

    client.post(reply_url(ticket), {"kind": "outbound", "body": "Thanks @bruno"})

    assert not Notification.objects.exists()


def test_mention_autocomplete_offers_only_agents_who_can_see_the_ticket(client):
    store = StoreFactory()
    author = agent_of(store, username="alice")
    agent_of(store, username="bruno")
    agent_of(StoreFactory(), username="bianca")
    UserFactory(username="bernard")  # no helpdesk role
    ticket = TicketFactory(store=store)
    client.force_login(author)

    found = client.get(reverse("tickets:mention_search", args=[ticket.pk]), {"q": "b"}).json()

    assert [row["username"] for row in found["results"]] == ["bruno"]


# --- Side actions: assign, priority, tags, timeline -------------------------------------------


def test_assign_to_me_team_priority_and_tags(client, alice):
    team = TeamFactory(name="Returns")
    existing = TagFactory(name="damaged")
    ticket = TicketFactory(priority=Ticket.Priority.NORMAL)
    client.force_login(alice)

    client.post(reverse("tickets:assign", args=[ticket.pk]), {"assignee": "me"})
    client.post(reverse("tickets:assign", args=[ticket.pk]), {"team": str(team.pk)})
    client.post(reverse("tickets:set_priority", args=[ticket.pk]), {"priority": "4"})
    client.post(reverse("tickets:set_tags", args=[ticket.pk]), {"tags": [str(existing.pk)], "new_tags": "vip, refund"})

    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.team, ticket.priority) == (alice, team, Ticket.Priority.URGENT)
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["damaged", "refund", "vip"]
    body = page(client, ticket)
    assert 'data-action="assign-me"' not in body  # assigned to me already
    timeline = body[body.index('id="timeline-heading"'):]
    assert "Assigned to Alice" in timeline
    assert "Moved to the team Returns" in timeline
    assert "Priority changed from Normal to Urgent" in timeline
    assert "Tags set to damaged, refund, vip" in timeline


def test_unknown_priority_or_agent_changes_nothing(client, alice):
    ticket = TicketFactory(priority=Ticket.Priority.NORMAL)
    client.force_login(alice)

    client.post(reverse("tickets:set_priority", args=[ticket.pk]), {"priority": "9"})
    client.post(reverse("tickets:assign", args=[ticket.pk]), {"assignee": "999999"})

    ticket.refresh_from_db()
    assert (ticket.priority, ticket.assignee) == (Ticket.Priority.NORMAL, None)
    assert not TicketEvent.objects.exists()


def test_timeline_is_written_in_the_agents_language(client, alice):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    actions.change_status(ticket=ticket, status=Ticket.Status.SOLVED, actor=alice)
    client.force_login(alice)
    client.post(reverse("set_language"), {"language": "es", "next": "/"})

    body = page(client, ticket)

    timeline = body[body.index('id="timeline-heading"'):]
    assert "Abierto" in timeline and "Resuelto" in timeline
    assert "Solved" not in timeline


# --- Previous / next ----------------------------------------------------------------------------


def test_previous_and_next_follow_the_inbox_view_the_agent_came_from(client, alice):
    now = timezone.now()
    oldest, middle, newest = (TicketFactory(created_at=now - timedelta(hours=h)) for h in (3, 2, 1))
    client.force_login(alice)
    origin = "view%3Dall%26sort%3Dcreated"

    body = page(client, middle, **{"from": origin})

    # Newest first: the previous row is the newer ticket, the next row the older one.
    assert f'href="/tickets/{newest.pk}/?from={origin}" data-nav="previous"' in body
    assert f'href="/tickets/{oldest.pk}/?from={origin}" data-nav="next"' in body
    last = page(client, oldest, **{"from": origin})
    assert 'data-nav="next"' not in last


def test_forms_keep_the_inbox_view_the_agent_came_from(client, alice):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    client.force_login(alice)
    origin = "view=open&sort=created"

    body = page(client, ticket, **{"from": "view%3Dopen%26sort%3Dcreated"})
    replied = client.post(reply_url(ticket), {"kind": "note", "body": "Seen.", "from": origin})
    status = client.post(reverse("tickets:change_status", args=[ticket.pk]), {"status": "pending", "from": origin})
    assigned = client.post(reverse("tickets:assign", args=[ticket.pk]), {"assignee": "me", "from": origin})

    assert '<input type="hidden" name="from" value="view=open&amp;sort=created">' in body
    assert f'href="/tickets/{ticket.pk}/?scope=ticket&amp;from=view%3Dopen%26sort%3Dcreated#conversation"' in body
    expected = f"/tickets/{ticket.pk}/?from=view%3Dopen%26sort%3Dcreated"
    assert replied["Location"].startswith(expected + "#message-")
    assert (status["Location"], assigned["Location"]) == (expected, expected)


def test_a_channel_the_customer_cannot_be_reached_on_is_refused(client, alice):
    customer = CustomerFactory()
    # A WhatsApp identity, but the store has no WhatsApp account: not offered, and refused if posted.
    identity = ChannelIdentityFactory(customer=customer, kind=ChannelIdentity.Kind.WHATSAPP, value="34600000001")
    ticket = TicketFactory(customer=customer)
    client.force_login(alice)

    body = page(client, ticket)
    response = client.post(reply_url(ticket), {"kind": "outbound", "body": "Hi", "send_via": str(identity.pk)})

    assert 'id="composer-channel"' not in body
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not Message.objects.exists()
