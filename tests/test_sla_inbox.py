"""The inbox shows each ticket's nearest SLA deadline as a badge with a countdown, and has
"SLA at risk" and "SLA breached" views."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from tests.factories import CustomerFactory, StoreFactory
from tickets import actions
from tickets.models import Message, SLAPolicy, Ticket

pytestmark = pytest.mark.django_db

INBOX = "/tickets/"


def ticket_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-ticket-id="(\d+)"', response.content.decode())]


def waiting(minutes_ago: int) -> Ticket:
    ticket = actions.create_ticket(store=StoreFactory(), channel="chat", customer=CustomerFactory(), subject="Hi")
    actions.add_message(ticket=ticket, direction=Message.Direction.INBOUND, body_text="Hello?",
                        created_at=timezone.now() - dt.timedelta(minutes=minutes_ago))
    return ticket


@pytest.fixture
def tickets():
    SLAPolicy.objects.create(name="Chat", channels=["chat"], hours=SLAPolicy.Hours.CALENDAR,
                             first_response_minutes=60, warning_minutes=15)
    return {"ok": waiting(5), "at_risk": waiting(50), "breached": waiting(70)}


def test_badges_show_the_state_of_the_nearest_deadline(client, alice, tickets):
    client.force_login(alice)
    page = client.get(INBOX).content.decode()
    for state, ticket in tickets.items():
        row = re.search(rf'data-ticket-id="{ticket.pk}".*?</tr>', page, re.S).group(0)
        assert f"sla-badge--{state.replace('_', '-')}" in row
        assert f'data-sla-due="{ticket.__class__.objects.get(pk=ticket.pk).first_response_due_at.isoformat()}"' in row
        assert "First response" in row


def test_at_risk_view_lists_warned_and_breached_tickets(client, alice, tickets):
    client.force_login(alice)
    assert sorted(ticket_ids(client.get(INBOX, {"sla": "at_risk"}))) == sorted(
        [tickets["at_risk"].pk, tickets["breached"].pk])
    assert ticket_ids(client.get(INBOX, {"sla": "breached"})) == [tickets["breached"].pk]


def test_answered_and_paused_tickets_leave_the_at_risk_view(client, alice, tickets):
    actions.add_message(ticket=tickets["breached"], direction=Message.Direction.OUTBOUND, body_text="Sorry",
                        author_user=alice)
    actions.change_status(ticket=tickets["at_risk"], status=Ticket.Status.PENDING, actor=alice)
    client.force_login(alice)
    assert ticket_ids(client.get(INBOX, {"sla": "at_risk"})) == []


def test_ticket_page_shows_the_badge(client, alice, tickets):
    client.force_login(alice)
    page = client.get(f"/tickets/{tickets['breached'].pk}/").content.decode()
    assert "sla-badge--breached" in page
