"""Customers over the API: search, identities, and merging two records of one person."""

from __future__ import annotations

import pytest

from tests.factories import (
    ChannelAccountFactory,
    ChannelIdentityFactory,
    CustomerFactory,
    MessageFactory,
    OrderFactory,
    TicketFactory,
)
from tickets import actions
from tickets.models import ChannelIdentity, Customer, Message, Order, Ticket, TicketEvent

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

CUSTOMERS = "/api/v1/customers/"


def merge_url(customer: Customer) -> str:
    return f"{CUSTOMERS}{customer.pk}/merge/"


# --- Search and detail -----------------------------------------------------------------------


@pytest.fixture
def people() -> dict[str, Customer]:
    ana = CustomerFactory(name="Ana Pop", email="ana.pop@example.ro", phone="+40722000111")
    ion = CustomerFactory(name="Ion Rus", email="ion@example.ro", phone="")
    lucia = CustomerFactory(name="Lucía Gómez", email="", phone="")
    ChannelIdentityFactory(
        customer=lucia, kind="instagram", value="17841400000000001", display_name="lucia.gomez"
    )
    return {"ana": ana, "ion": ion, "lucia": lucia}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ana pop", ["ana"]),
        ("EXAMPLE.RO", ["ion", "ana"]),
        ("+40 722-000 111", ["ana"]),
        ("0722000111", ["ana"]),
        ("lucia.gomez", ["lucia"]),
        ("nobody", []),
    ],
    ids=["name", "email-any-case", "phone-as-typed", "phone-digits", "channel-handle", "no-match"],
)
def test_search_by_name_email_phone_or_handle(client_for, alice, people, query, expected):
    # Newest first; the fixture created ana, then ion, then lucia.
    assert client_for(alice).ids(CUSTOMERS, {"q": query}) == [people[name].pk for name in expected]


def test_list_leaves_out_merged_customers_unless_asked(client_for, alice, people):
    actions.merge_customers(source=people["ion"], target=people["ana"])
    client = client_for(alice)

    assert client.ids(CUSTOMERS) == [people["lucia"].pk, people["ana"].pk]
    assert client.ids(CUSTOMERS, {"include_merged": "true"}) == [
        people["lucia"].pk,
        people["ion"].pk,
        people["ana"].pk,
    ]


def test_too_short_search_is_refused(client_for, alice):
    response = client_for(alice).get(CUSTOMERS, {"q": "a"})

    assert response.status_code == 400
    assert response.json() == {"q": ["Ensure this field has at least 2 characters."]}


def test_detail_has_identities_with_their_account(client_for, alice):
    account = ChannelAccountFactory(
        channel="whatsapp", provider="whatsapp", display_name="WhatsApp +40 31 000"
    )
    customer = CustomerFactory(
        name="Ana Pop", email="ana@example.ro", phone="+40722000111", note="Prefers WhatsApp"
    )
    email = ChannelIdentityFactory(customer=customer, kind="email", value="ana@example.ro")
    whatsapp = ChannelIdentityFactory(
        customer=customer, kind="whatsapp", value="40722000111", account=account, display_name="Ana"
    )

    body = client_for(alice).get(f"{CUSTOMERS}{customer.pk}/").json()

    assert (body["id"], body["name"], body["note"], body["merged_into"]) == (
        customer.pk,
        "Ana Pop",
        "Prefers WhatsApp",
        None,
    )
    assert [
        {k: v for k, v in identity.items() if k != "created_at"} for identity in body["identities"]
    ] == [
        {
            "id": email.pk,
            "kind": "email",
            "value": "ana@example.ro",
            "display_name": "",
            "account": None,
        },
        {
            "id": whatsapp.pk,
            "kind": "whatsapp",
            "value": "40722000111",
            "display_name": "Ana",
            "account": {
                "id": account.pk,
                "public_id": str(account.public_id),
                "channel": "whatsapp",
                "provider": "whatsapp",
                "display_name": "WhatsApp +40 31 000",
            },
        },
    ]


def test_merged_customer_still_resolves_and_points_to_the_survivor(client_for, alice):
    survivor, merged = CustomerFactory(), CustomerFactory()
    actions.merge_customers(source=merged, target=survivor)

    body = client_for(alice).get(f"{CUSTOMERS}{merged.pk}/").json()

    assert (body["id"], body["merged_into"], body["identities"]) == (merged.pk, survivor.pk, [])


# --- Merging ---------------------------------------------------------------------------------


@pytest.fixture
def duplicate():
    """The same person twice: once by email, once by WhatsApp, each with history."""
    whatsapp = ChannelAccountFactory(channel="whatsapp", provider="whatsapp")
    by_email = CustomerFactory(name="Lucía Gómez", email="lucia@example.es", phone="")
    by_whatsapp = CustomerFactory(name="", email="", phone="+34600111222")
    ChannelIdentityFactory(customer=by_email, kind="email", value="lucia@example.es")
    ChannelIdentityFactory(
        customer=by_whatsapp, kind="whatsapp", value="34600111222", account=whatsapp
    )
    email_ticket = TicketFactory(customer=by_email)
    whatsapp_ticket = TicketFactory(customer=by_whatsapp, channel="whatsapp")
    MessageFactory(ticket=email_ticket)
    MessageFactory.create_batch(2, ticket=whatsapp_ticket)
    return {
        "survivor": by_email,
        "source": by_whatsapp,
        "tickets": [email_ticket, whatsapp_ticket],
        "orders": [OrderFactory(customer=by_email), OrderFactory(customer=by_whatsapp)],
    }


def ownership(customer: Customer) -> dict:
    return {
        "tickets": sorted(Ticket.objects.filter(customer=customer).values_list("pk", flat=True)),
        "orders": sorted(Order.objects.filter(customer=customer).values_list("pk", flat=True)),
        "messages": Message.objects.filter(author_customer=customer).count(),
        "identities": sorted(
            ChannelIdentity.objects.filter(customer=customer).values_list("kind", "value")
        ),
        "merged_into": Customer.objects.get(pk=customer.pk).merged_into_id,
    }


def test_manager_merges_and_the_survivor_keeps_messages_orders_and_tickets(
    client_for, bob, duplicate
):
    survivor, source = duplicate["survivor"], duplicate["source"]

    response = client_for(bob).post(merge_url(source), {"into": survivor.pk})

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"], body["phone"], body["merged_into"]) == (
        survivor.pk,
        "Lucía Gómez",
        "+34600111222",
        None,
    )
    assert [(i["kind"], i["value"]) for i in body["identities"]] == [
        ("email", "lucia@example.es"),
        ("whatsapp", "34600111222"),
    ]
    assert ownership(survivor) == {
        "tickets": sorted(t.pk for t in duplicate["tickets"]),
        "orders": sorted(o.pk for o in duplicate["orders"]),
        "messages": 3,
        "identities": [("email", "lucia@example.es"), ("whatsapp", "34600111222")],
        "merged_into": None,
    }
    assert ownership(source) == {
        "tickets": [],
        "orders": [],
        "messages": 0,
        "identities": [],
        "merged_into": survivor.pk,
    }
    assert list(TicketEvent.objects.values_list("ticket", "kind", "actor")) == [
        (duplicate["tickets"][1].pk, "customer_merged", bob.pk),
    ]


def test_administrator_may_merge_too(client_for, charlie, duplicate):
    response = client_for(charlie).post(
        merge_url(duplicate["source"]), {"into": duplicate["survivor"].pk}
    )

    assert response.status_code == 200
    assert ownership(duplicate["source"])["merged_into"] == duplicate["survivor"].pk


def test_agent_cannot_merge_and_nothing_changes(client_for, alice, duplicate):
    survivor, source = duplicate["survivor"], duplicate["source"]
    before = (ownership(survivor), ownership(source), Customer.objects.get(pk=survivor.pk).phone)

    response = client_for(alice).post(merge_url(source), {"into": survivor.pk})

    assert response.status_code == 403
    assert response.json() == {"detail": "Only managers and administrators may do this."}
    assert (
        ownership(survivor),
        ownership(source),
        Customer.objects.get(pk=survivor.pk).phone,
    ) == before
    assert not TicketEvent.objects.exists()


def test_bad_merges_are_refused_and_nothing_changes(client_for, bob, duplicate):
    survivor, source = duplicate["survivor"], duplicate["source"]
    already_merged, its_survivor = CustomerFactory(), CustomerFactory()
    actions.merge_customers(source=already_merged, target=its_survivor)
    before = (ownership(survivor), ownership(source))
    client = client_for(bob)

    into_itself = client.post(merge_url(source), {"into": source.pk})
    into_a_merged_one = client.post(merge_url(source), {"into": already_merged.pk})
    from_a_merged_one = client.post(merge_url(already_merged), {"into": survivor.pk})
    into_nobody = client.post(merge_url(source), {"into": 999999})
    missing = client.post(merge_url(source), {})

    assert into_itself.json() == {"into": ["A customer cannot be merged into themselves."]}
    assert into_a_merged_one.json() == {
        "into": [
            f"Customer {already_merged.pk} was merged into customer {its_survivor.pk}; use that one."
        ]
    }
    assert from_a_merged_one.json() == {
        "non_field_errors": [f"This customer was already merged into customer {its_survivor.pk}."]
    }
    assert into_nobody.json() == {"into": ['Invalid pk "999999" - object does not exist.']}
    assert missing.json() == {"into": ["This field is required."]}
    assert {
        r.status_code
        for r in (into_itself, into_a_merged_one, from_a_merged_one, into_nobody, missing)
    } == {400}
    assert (ownership(survivor), ownership(source)) == before
    assert not TicketEvent.objects.exists()
