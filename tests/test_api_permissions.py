"""Who may call which API endpoint: anonymous 401, non-helpdesk users 403, then by role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import (
    CustomerFactory,
    MessageFactory,
    OrderFactory,
    StoreFactory,
    TicketFactory,
    UserFactory,
)
from tickets.models import Customer, Message, Order, Ticket, TicketEvent

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

API = "/api/v1"


@dataclass
class Scene:
    ticket: Ticket
    customer: Customer
    other_customer: Customer
    order: Order


@pytest.fixture
def scene() -> Scene:
    store = StoreFactory(slug="casa")
    customer = CustomerFactory(name="Ana Pop")
    ticket = TicketFactory(store=store, customer=customer, status=Ticket.Status.NEW)
    MessageFactory(ticket=ticket)
    return Scene(
        ticket=ticket,
        customer=customer,
        other_customer=CustomerFactory(name="Ana P."),
        order=OrderFactory(store=store, customer=customer, number="#2001"),
    )


def new_order_body(scene: Scene) -> dict:
    return {
        "store": scene.ticket.store_id,
        "marketplace": "shopify",
        "external_id": "9001",
        "number": "#9001",
    }


# (method, path, body) for every endpoint behind authentication.
ENDPOINTS: list[tuple[str, Callable[[Scene], str], Callable[[Scene], dict] | None]] = [
    ("get", lambda s: "/tickets/", None),
    (
        "post",
        lambda s: "/tickets/",
        lambda s: {"store": s.ticket.store_id, "customer": s.customer.pk, "channel": "email"},
    ),
    ("get", lambda s: f"/tickets/{s.ticket.pk}/", None),
    ("patch", lambda s: f"/tickets/{s.ticket.pk}/", lambda s: {"status": "solved"}),
    ("post", lambda s: f"/tickets/{s.ticket.pk}/orders/", lambda s: {"order": s.order.pk}),
    ("get", lambda s: f"/tickets/{s.ticket.pk}/messages/", None),
    (
        "post",
        lambda s: f"/tickets/{s.ticket.pk}/messages/",
        lambda s: {"direction": "outbound", "body_text": "Hi"},
    ),
    ("get", lambda s: "/customers/", None),
    ("get", lambda s: f"/customers/{s.customer.pk}/", None),
    (
        "post",
        lambda s: f"/customers/{s.customer.pk}/merge/",
        lambda s: {"into": s.other_customer.pk},
    ),
    ("get", lambda s: "/orders/", None),
    ("get", lambda s: f"/orders/{s.order.pk}/", None),
    ("post", lambda s: "/orders/", new_order_body),
]
ENDPOINT_IDS = [
    "list-tickets",
    "create-ticket",
    "get-ticket",
    "patch-ticket",
    "link-order",
    "list-messages",
    "post-message",
    "list-customers",
    "get-customer",
    "merge-customer",
    "list-orders",
    "get-order",
    "create-order",
]


def call(
    client: APIClient, scene: Scene, method: str, path: Callable, body: Callable | None
) -> Any:
    kwargs = {"data": body(scene), "format": "json"} if body else {}
    return getattr(client, method)(API + path(scene), **kwargs)


def snapshot(scene: Scene) -> dict:
    """Everything the endpoints above could change."""
    ticket = Ticket.objects.get(pk=scene.ticket.pk)
    return {
        "tickets": list(
            Ticket.objects.order_by("pk").values_list("pk", "status", "customer_id", "updated_at")
        ),
        "messages": Message.objects.count(),
        "events": TicketEvent.objects.count(),
        "orders": list(Order.objects.order_by("pk").values_list("pk", "customer_id")),
        "linked_orders": list(ticket.orders.values_list("pk", flat=True)),
        "merged": list(
            Customer.objects.filter(merged_into__isnull=False).values_list("pk", flat=True)
        ),
    }


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_anonymous_gets_401_and_nothing_changes(anonymous, scene, method, path, body):
    before = snapshot(scene)

    response = call(anonymous, scene, method, path, body)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert snapshot(scene) == before


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_signed_in_user_without_profile_gets_403_and_nothing_changes(
    client_for, mallory, scene, method, path, body
):
    before = snapshot(scene)

    response = call(client_for(mallory), scene, method, path, body)

    assert response.status_code == 403
    assert response.json() == {"detail": "This account is not a helpdesk user."}
    assert snapshot(scene) == before


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_user_without_profile_is_refused_with_a_token_too(
    token_client, mallory, scene, method, path, body
):
    client = token_client(Token.objects.create(user=mallory).key)
    before = snapshot(scene)

    response = call(client, scene, method, path, body)

    assert response.status_code == 403
    assert snapshot(scene) == before


def test_wrong_token_gets_401(token_client, scene):
    client = token_client("0000000000000000000000000000000000000000")

    response = client.get(f"{API}/tickets/")

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_deactivated_agent_token_gets_401(token_client, alice, scene):
    token = Token.objects.create(user=alice)
    alice.is_active = False
    alice.save()
    client = token_client(token.key)

    response = client.get(f"{API}/tickets/")

    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted."}


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_administrator_may_call_every_endpoint(client_for, charlie, scene, method, path, body):
    response = call(client_for(charlie), scene, method, path, body)

    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        endpoint
        for endpoint, name in zip(ENDPOINTS, ENDPOINT_IDS, strict=True)
        if name not in ("merge-customer", "create-order")
    ],
    ids=[name for name in ENDPOINT_IDS if name not in ("merge-customer", "create-order")],
)
def test_agent_may_read_and_work_tickets(client_for, alice, scene, method, path, body):
    response = call(client_for(alice), scene, method, path, body)

    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize(
    ("user_fixture", "endpoint", "detail"),
    [
        ("alice", "merge-customer", "Only managers and administrators may do this."),
        ("alice", "create-order", "Only administrators may do this."),
        ("bob", "create-order", "Only administrators may do this."),
    ],
)
def test_lower_roles_are_refused_stricter_actions(
    request, client_for, scene, user_fixture, endpoint, detail
):
    method, path, body = ENDPOINTS[ENDPOINT_IDS.index(endpoint)]
    before = snapshot(scene)

    response = call(client_for(request.getfixturevalue(user_fixture)), scene, method, path, body)

    assert response.status_code == 403
    assert response.json() == {"detail": detail}
    assert snapshot(scene) == before


def test_superuser_without_profile_counts_as_administrator(client_for, scene):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)

    response = call(client_for(root), scene, *ENDPOINTS[ENDPOINT_IDS.index("create-order")])

    assert response.status_code == 201
    assert Order.objects.filter(number="#9001").count() == 1


@pytest.mark.parametrize(
    "path",
    [
        lambda s: f"/tickets/{s.ticket.pk}/",
        lambda s: f"/customers/{s.customer.pk}/",
        lambda s: f"/orders/{s.order.pk}/",
    ],
    ids=["ticket", "customer", "order"],
)
@pytest.mark.parametrize("method", ["delete", "put"])
def test_nothing_can_be_deleted_or_replaced_even_by_an_administrator(
    client_for, charlie, scene, method, path
):
    before = snapshot(scene)

    response = call(client_for(charlie), scene, method, path, lambda s: {"subject": "Replaced"})

    assert response.status_code == 405
    assert snapshot(scene) == before
    assert Ticket.objects.get(pk=scene.ticket.pk).subject == scene.ticket.subject


def test_session_writes_need_the_csrf_token(alice, scene):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    before = snapshot(scene)

    response = client.patch(
        f"{API}/tickets/{scene.ticket.pk}/", {"status": "solved"}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF Failed: CSRF cookie not set."}
    assert snapshot(scene) == before
