"""Tickets over the API: listing with filters, reading one, opening one and changing it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    ChannelAccountFactory,
    CustomerFactory,
    MessageFactory,
    OrderFactory,
    OrderLineFactory,
    ShipmentFactory,
    StoreFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
)
from tickets import actions
from tickets.models import Message, Ticket, TicketEvent

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
MARCH_1 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return MARCH_1 + timedelta(minutes=minutes)


# --- Listing ---------------------------------------------------------------------------------


def test_list_row_shows_the_ticket_and_who_has_it(client_for, alice):
    store = StoreFactory(slug="casa", name="Casa Verde")
    customer = CustomerFactory(name="Ana Pop", email="ana@example.ro", phone="+40722000111")
    team = TeamFactory(name="Returns")
    ticket = TicketFactory(
        store=store,
        customer=customer,
        subject="Broken mug",
        status=Ticket.Status.OPEN,
        priority=Ticket.Priority.HIGH,
        channel="email",
        assignee=alice,
        team=team,
        language="ro",
        created_at=at(0),
        updated_at=at(5),
    )
    ticket.tags.set([TagFactory(name="refund"), TagFactory(name="damaged")])

    rows = client_for(alice).rows(TICKETS)

    assert rows == [
        {
            "id": ticket.pk,
            "subject": "Broken mug",
            "status": "open",
            "priority": 3,
            "channel": "email",
            "store": {"id": store.pk, "slug": "casa", "name": "Casa Verde"},
            "channel_account": None,
            "customer": {
                "id": customer.pk,
                "name": "Ana Pop",
                "email": "ana@example.ro",
                "phone": "+40722000111",
            },
            "assignee": {"id": alice.pk, "username": "alice", "name": "Alice"},
            "team": {"id": team.pk, "name": "Returns"},
            "tags": ["damaged", "refund"],
            "language": "ro",
            "is_spam": False,
            "merged_into": None,
            "created_at": "2026-03-01T09:30:00Z",
            "updated_at": "2026-03-01T09:35:00Z",
            "first_response_at": None,
            "last_customer_message_at": None,
            "last_agent_message_at": None,
            "solved_at": None,
            "closed_at": None,
            "first_response_due_at": None,
            "next_response_due_at": None,
            "resolution_due_at": None,
        }
    ]


def test_list_is_newest_activity_first_and_pages_by_cursor(client_for, alice):
    oldest, middle, newest = (TicketFactory(updated_at=at(minutes)) for minutes in (1, 2, 3))
    client = client_for(alice)

    first = client.get(TICKETS, {"page_size": 2})
    second = client.get(first.json()["next"])

    assert [row["id"] for row in first.json()["results"]] == [newest.pk, middle.pk]
    assert [row["id"] for row in second.json()["results"]] == [oldest.pk]
    assert second.json()["next"] is None


@pytest.fixture
def inbox(alice, bob):
    """Five tickets that differ in one property each from the first."""
    casa, sol = StoreFactory(slug="casa"), StoreFactory(slug="sol")
    ana, ion = CustomerFactory(name="Ana"), CustomerFactory(name="Ion")
    return {
        "new_email": TicketFactory(
            store=casa, customer=ana, status="new", channel="email", updated_at=at(5)
        ),
        "open_mine": TicketFactory(
            store=casa,
            customer=ana,
            status="open",
            channel="email",
            assignee=alice,
            updated_at=at(4),
        ),
        "pending_bobs": TicketFactory(
            store=casa,
            customer=ana,
            status="pending",
            channel="email",
            assignee=bob,
            updated_at=at(3),
        ),
        "open_whatsapp": TicketFactory(
            store=casa, customer=ana, status="open", channel="whatsapp", updated_at=at(2)
        ),
        "solved_sol_ion": TicketFactory(
            store=sol, customer=ion, status="solved", channel="email", updated_at=at(1)
        ),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "open"}, ["open_mine", "open_whatsapp"]),
        ({"status": "new,pending"}, ["new_email", "pending_bobs"]),
        ({"channel": "whatsapp"}, ["open_whatsapp"]),
        ({"store": "sol"}, ["solved_sol_ion"]),
        ({"assignee": "me"}, ["open_mine"]),
        ({"assignee": "none"}, ["new_email", "open_whatsapp", "solved_sol_ion"]),
        ({"status": "open", "assignee": "none"}, ["open_whatsapp"]),
        ({}, ["new_email", "open_mine", "pending_bobs", "open_whatsapp", "solved_sol_ion"]),
    ],
    ids=[
        "status",
        "several-statuses",
        "channel",
        "store-slug",
        "assignee-me",
        "unassigned",
        "combined",
        "none",
    ],
)
def test_list_filters(client_for, alice, inbox, params, expected):
    assert client_for(alice).ids(TICKETS, params) == [inbox[name].pk for name in expected]


def test_list_filters_by_ids(client_for, alice, bob, inbox):
    client = client_for(alice)
    sol = inbox["solved_sol_ion"]

    assert client.ids(TICKETS, {"store": sol.store_id}) == [sol.pk]
    assert client.ids(TICKETS, {"customer": sol.customer_id}) == [sol.pk]
    assert client.ids(TICKETS, {"assignee": bob.pk}) == [inbox["pending_bobs"].pk]
    assert client.ids(TICKETS, {"assignee": 999999}) == []


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        (
            {"status": "opened"},
            {
                "status": [
                    "Unknown status opened; use one or more of: new, open, pending, on_hold, solved, closed."
                ]
            },
        ),
        ({"assignee": "someone"}, {"assignee": ['Use a user id, "me" or "none".']}),
        ({"channel": "fax"}, {"channel": ['"fax" is not a valid choice.']}),
        ({"customer": "ana"}, {"customer": ["A valid integer is required."]}),
    ],
    ids=["status", "assignee", "channel", "customer"],
)
def test_bad_filter_is_a_400_naming_the_parameter(client_for, alice, params, errors):
    response = client_for(alice).get(TICKETS, params)

    assert response.status_code == 400
    assert response.json() == errors


def test_list_query_count_does_not_grow_with_the_page(client_for, alice):
    client = client_for(alice)

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(TICKETS).status_code == 200
        return len(captured)

    def add_ticket() -> None:
        ticket = TicketFactory(
            assignee=alice, team=TeamFactory(), channel_account=ChannelAccountFactory()
        )
        ticket.tags.set([TagFactory(), TagFactory()])

    add_ticket()
    one = queries_for_list()
    for _ in range(5):
        add_ticket()

    assert queries_for_list() == one


# --- Reading one -----------------------------------------------------------------------------


def test_detail_has_messages_orders_with_lines_and_shipments_and_tags(client_for, alice):
    account = ChannelAccountFactory(channel="email", provider="imap", display_name="Support inbox")
    ticket = TicketFactory(
        store=account.store, channel_account=account, subject="Where is my parcel?"
    )
    ticket.tags.set([TagFactory(name="shipping")])
    question = MessageFactory(ticket=ticket, body_text="Where is it?", created_at=at(0))
    note = MessageFactory(
        ticket=ticket,
        direction="note",
        author_type="agent",
        author_customer=None,
        author_user=alice,
        body_text="Checking with DHL",
        created_at=at(1),
    )
    order = OrderFactory(
        store=account.store,
        customer=ticket.customer,
        number="#1042",
        external_id="5001",
        total=Decimal("49.90"),
        placed_at=at(-60 * 24),
        shipping_address={"city": "Cluj-Napoca", "country": "RO"},
    )
    line = OrderLineFactory(
        order=order,
        sku="MUG-1",
        title="Ceramic mug",
        quantity=2,
        unit_price=Decimal("22.45"),
        total=Decimal("44.90"),
    )
    shipment = ShipmentFactory(
        order=order, carrier="DHL", tracking_number="JD014600000001", shipped_at=at(-60)
    )
    ticket.orders.add(order)

    body = client_for(alice).get(f"{TICKETS}{ticket.pk}/").json()

    assert body["tags"] == ["shipping"]
    assert body["channel_account"] == {
        "id": account.pk,
        "public_id": str(account.public_id),
        "channel": "email",
        "provider": "imap",
        "display_name": "Support inbox",
    }
    assert [(m["id"], m["direction"], m["body_text"]) for m in body["messages"]] == [
        (question.pk, "inbound", "Where is it?"),
        (note.pk, "note", "Checking with DHL"),
    ]
    assert body["messages"][1]["author_user"] == {
        "id": alice.pk,
        "username": "alice",
        "name": "Alice",
    }
    assert body["messages"][0]["author_customer"] == ticket.customer_id
    assert body["messages"][0]["delivery_state"] == "received"
    [shown] = body["orders"]
    assert (shown["id"], shown["number"], shown["external_id"], shown["total"]) == (
        order.pk,
        "#1042",
        "5001",
        "49.90",
    )
    assert shown["placed_at"] == "2026-02-28T09:30:00Z"
    assert shown["shipping_address"] == {"city": "Cluj-Napoca", "country": "RO"}
    assert shown["lines"] == [
        {
            "id": line.pk,
            "external_id": "",
            "sku": "MUG-1",
            "title": "Ceramic mug",
            "quantity": 2,
            "unit_price": "22.45",
            "total": "44.90",
        }
    ]
    assert shown["shipments"] == [
        {
            "id": shipment.pk,
            "external_id": "",
            "carrier": "DHL",
            "tracking_number": "JD014600000001",
            "tracking_url": "https://www.dhl.com/track?id=JD014600000001",
            "status": "in_transit",
            "shipped_at": "2026-03-01T08:30:00Z",
            "delivered_at": None,
        }
    ]


def test_detail_query_count_does_not_grow_with_messages_or_orders(client_for, alice):
    ticket = TicketFactory()
    client = client_for(alice)

    def queries_for_detail() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"{TICKETS}{ticket.pk}/").status_code == 200
        return len(captured)

    def add_message_and_order() -> None:
        MessageFactory(
            ticket=ticket,
            direction="outbound",
            author_type="agent",
            author_user=alice,
            author_customer=None,
        )
        order = OrderFactory(customer=ticket.customer)
        OrderLineFactory(order=order)
        ShipmentFactory(order=order)
        ticket.orders.add(order)

    add_message_and_order()
    one = queries_for_detail()
    for _ in range(4):
        add_message_and_order()

    assert queries_for_detail() == one


def test_unknown_ticket_is_404(client_for, alice):
    assert client_for(alice).get(f"{TICKETS}999999/").status_code == 404


# --- Opening one -----------------------------------------------------------------------------


def test_agent_opens_a_ticket_with_assignee_team_and_tags(client_for, alice, bob):
    store = StoreFactory(default_language="es")
    customer = CustomerFactory(language="")
    team = TeamFactory(name="Returns")
    TagFactory(name="vip")

    response = client_for(alice).post(
        TICKETS,
        {
            "store": store.pk,
            "customer": customer.pk,
            "channel": "api",
            "subject": "Phoned about a refund",
            "priority": Ticket.Priority.URGENT,
            "assignee": bob.pk,
            "team": team.pk,
            "tags": ["vip"],
        },
    )

    assert response.status_code == 201
    ticket = Ticket.objects.get()
    assert response.json()["id"] == ticket.pk
    assert (ticket.store, ticket.customer, ticket.channel, ticket.subject) == (
        store,
        customer,
        "api",
        "Phoned about a refund",
    )
    assert (ticket.status, ticket.priority, ticket.language) == ("new", 4, "es")
    assert (ticket.assignee, ticket.team) == (bob, team)
    assert list(ticket.tags.values_list("name", flat=True)) == ["vip"]
    # Every step was an action and is on the timeline, by the agent who did it.
    assert list(
        TicketEvent.objects.filter(ticket=ticket).order_by("pk").values_list("kind", "actor")
    ) == [
        ("created", alice.pk),
        ("assigned", alice.pk),
        ("team_changed", alice.pk),
        ("tagged", alice.pk),
    ]
    assert response.json()["messages"] == []


def test_minimal_ticket_needs_store_customer_and_channel(client_for, alice):
    response = client_for(alice).post(TICKETS, {})

    assert response.status_code == 400
    assert response.json() == {
        "store": ["This field is required."],
        "customer": ["This field is required."],
        "channel": ["This field is required."],
    }
    assert not Ticket.objects.exists()


def test_ticket_for_a_merged_customer_is_refused(client_for, alice):
    survivor, merged = CustomerFactory(), CustomerFactory()
    actions.merge_customers(source=merged, target=survivor)

    response = client_for(alice).post(
        TICKETS, {"store": StoreFactory().pk, "customer": merged.pk, "channel": "email"}
    )

    assert response.status_code == 400
    assert response.json() == {
        "customer": [f"Customer {merged.pk} was merged into customer {survivor.pk}; use that one."]
    }
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("account_kwargs", "error"),
    [
        ({"channel": "email"}, "This channel account belongs to another store."),
        (
            {"channel": "whatsapp", "same_store": True},
            "This channel account is on another channel.",
        ),
    ],
    ids=["other-store", "other-channel"],
)
def test_channel_account_must_match_store_and_channel(client_for, alice, account_kwargs, error):
    store = StoreFactory()
    same_store = account_kwargs.pop("same_store", False)
    account = ChannelAccountFactory(store=store if same_store else StoreFactory(), **account_kwargs)

    response = client_for(alice).post(
        TICKETS,
        {
            "store": store.pk,
            "customer": CustomerFactory().pk,
            "channel": "email",
            "channel_account": account.pk,
        },
    )

    assert response.status_code == 400
    assert response.json() == {"channel_account": [error]}
    assert not Ticket.objects.exists()


def test_unknown_tag_or_non_agent_assignee_refuses_the_whole_ticket(client_for, alice, mallory):
    body = {"store": StoreFactory().pk, "customer": CustomerFactory().pk, "channel": "email"}
    client = client_for(alice)

    unknown_tag = client.post(TICKETS, {**body, "tags": ["no-such-tag"]})
    not_an_agent = client.post(TICKETS, {**body, "assignee": mallory.pk})

    assert unknown_tag.status_code == 400
    assert unknown_tag.json() == {"tags": {"0": ["Object with name=no-such-tag does not exist."]}}
    assert not_an_agent.status_code == 400
    assert not_an_agent.json() == {
        "assignee": [f'Invalid pk "{mallory.pk}" - object does not exist.']
    }
    assert not Ticket.objects.exists()


# --- Changing one ----------------------------------------------------------------------------


def test_patch_changes_each_field_through_its_action(client_for, alice, bob):
    old_team, new_team = TeamFactory(name="Sales"), TeamFactory(name="Returns")
    ticket = TicketFactory(status="open", priority=2, team=old_team, updated_at=at(0))
    ticket.tags.set([TagFactory(name="question")])
    TagFactory(name="refund")

    response = client_for(alice).patch(
        f"{TICKETS}{ticket.pk}/",
        {
            "status": "solved",
            "assignee": bob.pk,
            "team": new_team.pk,
            "priority": 3,
            "tags": ["refund"],
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["priority"], body["tags"]) == ("solved", 3, ["refund"])
    assert body["assignee"]["id"] == bob.pk and body["team"] == {
        "id": new_team.pk,
        "name": "Returns",
    }
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.assignee, ticket.team) == (
        "solved",
        3,
        bob,
        new_team,
    )
    assert ticket.solved_at is not None and ticket.updated_at > at(0)
    events = TicketEvent.objects.filter(ticket=ticket).order_by("pk")
    assert [(e.kind, e.actor_id, e.data) for e in events] == [
        ("status_changed", alice.pk, {"from": "open", "to": "solved"}),
        ("assigned", alice.pk, {"from": None, "to": bob.pk}),
        ("team_changed", alice.pk, {"from": old_team.pk, "to": new_team.pk}),
        ("priority_changed", alice.pk, {"from": 2, "to": 3}),
        ("tagged", alice.pk, {"from": ["question"], "to": ["refund"]}),
    ]


def test_patch_null_unassigns_and_clears_the_team(client_for, alice):
    team = TeamFactory()
    ticket = TicketFactory(assignee=alice, team=team)

    response = client_for(alice).patch(f"{TICKETS}{ticket.pk}/", {"assignee": None, "team": None})

    assert response.status_code == 200
    assert (response.json()["assignee"], response.json()["team"]) == (None, None)
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.team) == (None, None)
    assert list(
        TicketEvent.objects.filter(ticket=ticket).order_by("pk").values_list("kind", "data")
    ) == [
        ("assigned", {"from": alice.pk, "to": None}),
        ("team_changed", {"from": team.pk, "to": None}),
    ]


def test_patch_with_same_values_records_nothing(client_for, alice):
    ticket = TicketFactory(status="open", priority=2, updated_at=at(0))

    response = client_for(alice).patch(
        f"{TICKETS}{ticket.pk}/", {"status": "open", "priority": 2, "tags": []}
    )

    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.updated_at == at(0)
    assert not TicketEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {},
            {"non_field_errors": ["Send at least one of: status, assignee, team, priority, tags."]},
        ),
        ({"status": "done"}, {"status": ['"done" is not a valid choice.']}),
        (
            {"status": "solved", "tags": ["nope"]},
            {"tags": {"0": ["Object with name=nope does not exist."]}},
        ),
        ({"status": "solved", "priority": 9}, {"priority": ['"9" is not a valid choice.']}),
    ],
    ids=["empty", "bad-status", "valid-status-with-unknown-tag", "valid-status-with-bad-priority"],
)
def test_bad_patch_changes_nothing(client_for, alice, body, errors):
    ticket = TicketFactory(status="open", priority=2, updated_at=at(0))

    response = client_for(alice).patch(f"{TICKETS}{ticket.pk}/", body)

    assert response.status_code == 400
    assert response.json() == errors
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.updated_at) == ("open", 2, at(0))
    assert not TicketEvent.objects.exists()


def test_patch_cannot_touch_other_fields(client_for, alice):
    ticket = TicketFactory(subject="Original", status="open")

    response = client_for(alice).patch(
        f"{TICKETS}{ticket.pk}/", {"subject": "Rewritten", "status": "pending"}
    )

    assert response.status_code == 200
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.status) == ("Original", "pending")


# --- Linking an order ------------------------------------------------------------------------


def test_linking_an_order_is_recorded_once(client_for, alice):
    ticket = TicketFactory()
    order = OrderFactory(customer=ticket.customer, number="#1042")
    client = client_for(alice)

    first = client.post(f"{TICKETS}{ticket.pk}/orders/", {"order": order.pk})
    again = client.post(f"{TICKETS}{ticket.pk}/orders/", {"order": order.pk})

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["number"] == "#1042" and first.json()["lines"] == []
    assert list(ticket.orders.all()) == [order]
    assert list(TicketEvent.objects.values_list("kind", "actor", "data")) == [
        ("order_linked", alice.pk, {"order_id": order.pk, "number": "#1042"}),
    ]


def test_linking_an_unknown_order_is_refused(client_for, alice):
    ticket = TicketFactory()

    response = client_for(alice).post(f"{TICKETS}{ticket.pk}/orders/", {"order": 424242})

    assert response.status_code == 400
    assert response.json() == {"order": ['Invalid pk "424242" - object does not exist.']}
    assert not ticket.orders.exists() and not Message.objects.exists()
