"""The reply window of messaging channels, as the agent sees it on the ticket page, and the rule
that delivery receipts only move a reply forward."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.messaging_helpers import conversation, meta_account, twilio_account
from tickets.delivery import moves_forward, reply_window

pytestmark = pytest.mark.django_db


def page(client, user, ticket) -> str:
    client.force_login(user)
    response = client.get(f"/tickets/{ticket.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_open_window_shows_when_it_closes(client, alice):
    ticket, _ = conversation(meta_account("messenger"), thread="5678", customer_wrote_ago=timedelta(hours=2))
    window = reply_window(ticket)
    assert window.is_open
    assert abs((window.closes_at - (timezone.now() + timedelta(hours=22))).total_seconds()) < 5
    html = page(client, alice, ticket)
    assert "Reply window closes at" in html
    assert "reply-window--closed" not in html


def test_closed_window_warns_in_the_composer(client, alice):
    ticket, _ = conversation(meta_account("instagram"), thread="5678", customer_wrote_ago=timedelta(hours=30))
    html = page(client, alice, ticket)
    assert "The reply window closed at" in html
    assert "A reply sent now will not be delivered" in html


def test_closed_window_with_the_human_agent_tag(client, alice):
    ticket, _ = conversation(meta_account("messenger", human_agent_tag=True), thread="5678",
                             customer_wrote_ago=timedelta(days=2))
    window = reply_window(ticket)
    assert (window.is_open, window.fallback) == (False, "human_agent")
    assert "Replies are sent with the human agent tag until" in page(client, alice, ticket)


def test_closed_whatsapp_window_with_a_template(client, alice):
    account = meta_account("whatsapp", external_id="1122334455667", template_name="support_reply")
    ticket, _ = conversation(account, thread="972987654321", customer_wrote_ago=timedelta(days=2))
    assert reply_window(ticket).fallback == "template"
    assert "approved WhatsApp template" in page(client, alice, ticket)


def test_sms_has_no_window(client, alice):
    ticket, _ = conversation(twilio_account(), thread="+14133881111")
    assert reply_window(ticket) is None
    assert "reply-window" not in page(client, alice, ticket)


@pytest.mark.parametrize("current, new, moves", [
    ("queued", "sent", True), ("sent", "delivered", True), ("delivered", "read", True), ("sent", "read", True),
    ("read", "delivered", False), ("delivered", "sent", False), ("read", "read", False),
    ("sent", "failed", True), ("queued", "failed", True), ("delivered", "failed", False), ("read", "failed", False),
    ("failed", "delivered", True), ("failed", "read", True), ("failed", "sent", False),
    ("received", "read", False),
])
def test_delivery_only_moves_forward(current, new, moves):
    assert moves_forward(current, new) is moves


def test_sms_customer_who_texted_stop_is_shown_in_the_composer(client, alice):
    from tickets.models import ChannelIdentity

    ticket, _ = conversation(twilio_account(), thread="+14133881111")
    ChannelIdentity.objects.create(customer=ticket.customer, kind="phone", value="+14133881111",
                                   opted_out_at=timezone.now())
    assert reply_window(ticket).opted_out_at is not None
    html = page(client, alice, ticket)
    assert "The customer texted STOP on" in html
    assert "A reply sent now will not be delivered" not in html


def test_conversation_shows_reactions_unsent_messages_and_echoes(client, alice):
    from tickets.models import Message

    ticket, reply = conversation(meta_account("instagram"), thread="5678")
    inbound = Message.objects.get(ticket=ticket, direction="inbound")
    Message.objects.filter(pk=inbound.pk).update(metadata={"unsent_at": "2026-01-01T10:00:00+00:00"})
    Message.objects.filter(pk=reply.pk).update(metadata={"reactions": [{"emoji": "\U0001f44d", "by": "customer"}],
                                                         "sent_outside_helpdesk": True})
    html = page(client, alice, ticket)
    assert "The customer unsent this message." in html
    assert '<span class="reaction" title="Reaction of the customer">\U0001f44d</span>' in html
    assert "Sent from the provider's own app, not from the helpdesk." in html
