"""Replies and internal notes posted through the API, and a ticket's message list."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from tests.factories import MessageFactory, TicketFactory
from tickets import actions
from tickets.models import Message, Ticket, TicketEvent

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def messages_url(ticket: Ticket) -> str:
    return f"/api/v1/tickets/{ticket.pk}/messages/"


def test_reply_is_queued_outbound_and_is_the_first_response(client_for, alice):
    ticket = TicketFactory(status="new", channel="whatsapp")
    MessageFactory(ticket=ticket)

    with time_machine.travel(NOON, tick=False):
        response = client_for(alice).post(
            messages_url(ticket),
            {
                "direction": "outbound",
                "body_text": "Your parcel left our warehouse today.",
            },
        )

    assert response.status_code == 201
    reply = Message.objects.get(direction="outbound")
    assert response.json() == {
        "id": reply.pk,
        "ticket": ticket.pk,
        "direction": "outbound",
        "author_type": "agent",
        "author_user": {"id": alice.pk, "username": "alice", "name": "Alice"},
        "author_customer": None,
        "channel": "whatsapp",
        "subject": "",
        "body_text": "Your parcel left our warehouse today.",
        "body_html": "",
        "delivery_state": "queued",
        "failure_reason": "",
        "created_at": "2026-03-02T12:00:00Z",
        "delivery_updated_at": None,
        "attachments": [],
    }
    ticket.refresh_from_db()
    assert ticket.first_response_at == NOON
    assert ticket.last_agent_message_at == NOON
    assert ticket.status == "open"
    assert TicketEvent.objects.filter(ticket=ticket, kind="message", actor=alice).count() == 1


def test_a_later_reply_keeps_the_first_response_time(client_for, alice):
    ticket = TicketFactory(status="open", first_response_at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC))

    with time_machine.travel(NOON, tick=False):
        client_for(alice).post(
            messages_url(ticket), {"direction": "outbound", "body_text": "One more thing."}
        )

    ticket.refresh_from_db()
    assert ticket.first_response_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert ticket.last_agent_message_at == NOON


def test_internal_note_is_not_a_response_and_is_not_sent(client_for, alice):
    ticket = TicketFactory(status="new")

    response = client_for(alice).post(
        messages_url(ticket), {"direction": "note", "body_text": "Customer is a VIP."}
    )

    assert response.status_code == 201
    assert (response.json()["direction"], response.json()["delivery_state"]) == ("note", "received")
    ticket.refresh_from_db()
    assert (ticket.first_response_at, ticket.last_agent_message_at, ticket.status) == (
        None,
        None,
        "new",
    )


def test_html_reply_is_stored_sanitised(client_for, alice):
    ticket = TicketFactory()

    response = client_for(alice).post(
        messages_url(ticket),
        {
            "direction": "outbound",
            "body_html": '<p onclick="steal()">Hello<script>alert(1)</script></p>',
        },
    )

    assert response.status_code == 201
    assert response.json()["body_html"] == "<p>Hello</p>"
    assert Message.objects.get().body_html == "<p>Hello</p>"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"body_text": "Hi"}, {"direction": ["This field is required."]}),
        (
            {"direction": "inbound", "body_text": "Hi"},
            {"direction": ['"inbound" is not a valid choice.']},
        ),
        (
            {"direction": "outbound", "body_text": "   "},
            {"body_text": ["Write something: the message is empty."]},
        ),
    ],
    ids=["no-direction", "inbound", "empty"],
)
def test_bad_message_is_refused_and_nothing_changes(client_for, alice, body, errors):
    ticket = TicketFactory(status="new")

    response = client_for(alice).post(messages_url(ticket), body)

    assert response.status_code == 400
    assert response.json() == errors
    assert not Message.objects.exists()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.first_response_at) == ("new", None)


def test_reply_to_a_merged_ticket_points_to_the_survivor(client_for, alice):
    survivor, merged = TicketFactory(), TicketFactory()
    actions.merge_tickets(source=merged, target=survivor)

    response = client_for(alice).post(
        messages_url(merged), {"direction": "outbound", "body_text": "Hi"}
    )

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": [
            f"Ticket {merged.pk} was merged into ticket {survivor.pk}; write there."
        ]
    }
    assert not Message.objects.exists()


def test_list_is_the_ticket_conversation_oldest_first(client_for, alice):
    ticket = TicketFactory()
    first = MessageFactory(ticket=ticket, created_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    second = MessageFactory(ticket=ticket, created_at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    MessageFactory()  # on another ticket

    assert client_for(alice).ids(messages_url(ticket)) == [first.pk, second.pk]


def test_unknown_ticket_is_404_for_list_and_post(client_for, alice):
    client = client_for(alice)

    assert client.get("/api/v1/tickets/999999/messages/").status_code == 404
    assert (
        client.post(
            "/api/v1/tickets/999999/messages/", {"direction": "note", "body_text": "x"}
        ).status_code
        == 404
    )
    assert not Message.objects.exists()
