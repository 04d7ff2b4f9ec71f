"""Orders on the ticket: automatic linking (order number in the message, order arriving after the
message), linking and unlinking by hand (page and API), the order panel, order actions with
their confirmation step (page) and over the API, and canned-response order variables."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from channels_ingest.base import CustomerHandle, NormalizedMessage
from tests.shop_helpers import Answer, ShopServer, post_shopify, shopify_account
from tests.webhook_helpers import corpus_bytes, process_stored_event
from tickets.canned import render_canned_response
from tickets.ingest import ingest_message
from tickets.models import CannedResponse, Order, Ticket, TicketEvent

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

ORDERS_CREATE = "webhooks/shopify/orders-create.docs-example.json"
FULFILLMENT = "webhooks/shopify/fulfillments-create.docs-example.json"


@pytest.fixture
def server():
    with ShopServer() as running:
        yield running


@pytest.fixture
def account(server):
    return shopify_account(api_base_url=server.url)


def email_from_john(account, text: str, subject: str = "Question", external_id: str = "<m1@example.com>"):
    return ingest_message(account=account, normalized=NormalizedMessage(
        channel="email", external_id=external_id, subject=subject, body_text=text,
        customer=CustomerHandle(kind="email", value="john@example.com", email="john@example.com")))


def paid_order(client, account) -> Order:
    payload = json.loads(corpus_bytes(ORDERS_CREATE))
    payload.update(cancelled_at=None, financial_status="paid")
    process_stored_event(post_shopify(client, account, json.dumps(payload).encode(), "orders/create", "w-o"))
    return Order.objects.get()


def test_message_naming_the_customers_order_links_it(client, account):
    order = paid_order(client, account)
    outcome = email_from_john(account, "Hi, where is my order #9999? Thanks")
    assert list(Ticket.objects.get(pk=outcome.ticket_id).orders.all()) == [order]


def test_message_naming_someone_elses_order_links_nothing(client, account):
    paid_order(client, account)
    outcome = ingest_message(account=account, normalized=NormalizedMessage(
        channel="email", external_id="<m2@example.com>", body_text="Where is order #9999?",
        customer=CustomerHandle(kind="email", value="mallory@example.com", email="mallory@example.com")))
    assert Ticket.objects.get(pk=outcome.ticket_id).orders.count() == 0


def test_order_arriving_after_the_message_is_linked_to_the_waiting_ticket(client, account):
    outcome = email_from_john(account, "My order 9999 has not arrived")
    order = paid_order(client, account)
    assert list(Ticket.objects.get(pk=outcome.ticket_id).orders.all()) == [order]


def test_order_reference_without_the_hash_finds_the_shopify_number(client, account):
    from tickets.ingest import find_order

    order = paid_order(client, account)
    assert find_order(account=account, reference="9999") == order


def login(client, user):
    client.force_login(user)
    return client


def test_ticket_page_shows_the_order_panel(client, account, alice):
    order = paid_order(client, account)
    process_stored_event(post_shopify(client, account, corpus_bytes(FULFILLMENT), "fulfillments/create", "w-f"))
    outcome = email_from_john(account, "Where is #9999?")
    page = login(client, alice).get(f"/tickets/{outcome.ticket_id}/").content.decode()
    for expected in ("#9999", "Aviator sunglasses", "404.95 USD", "paid", "Shippington", "1z827wk74630",
                     "https://www.ups.com/WebTracking?loc=en_US&amp;requester=ST&amp;trackNums=1z827wk74630",
                     "Refund…", "Cancel order…"):
        assert expected in page, expected
    assert order.pk


def test_ticket_page_shows_a_buyers_cancellation_request_and_the_marketplace_site(client, account, alice):
    from django.utils import timezone

    order = paid_order(client, account)
    Order.objects.filter(pk=order.pk).update(
        marketplace_site="amazon.es", cancellation_requested_at=timezone.now(), cancellation_reason="Ya no lo necesito",
    )
    outcome = email_from_john(account, "Where is #9999?")
    page = login(client, alice).get(f"/tickets/{outcome.ticket_id}/").content.decode()
    assert "(amazon.es)" in page
    assert "The buyer asked to cancel this order: Ya no lo necesito" in page


def test_ticket_page_lists_the_customers_other_orders(client, account, alice):
    order = paid_order(client, account)
    older = Order.objects.create(store=account.store, channel_account=account, customer=order.customer,
                                 marketplace="shopify", external_id="1", number="#8001", total=Decimal("12.50"),
                                 currency="USD")
    outcome = email_from_john(account, "Where is #9999?")
    page = login(client, alice).get(f"/tickets/{outcome.ticket_id}/").content.decode()
    others = page[page.index("customer-orders"):]
    others = others[: others.index("</ul>")]
    assert "#8001" in others and "12.50 USD" in others and "#9999" not in others
    assert older.pk


def test_link_and_unlink_by_hand_on_the_page(client, account, alice):
    order = paid_order(client, account)
    outcome = email_from_john(account, "Hello")
    login(client, alice)
    response = client.post(f"/tickets/{outcome.ticket_id}/orders/link/", {"reference": "9999"})
    assert response.status_code == 302
    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    assert list(ticket.orders.all()) == [order]
    client.post(f"/tickets/{ticket.pk}/orders/{order.pk}/unlink/")
    assert ticket.orders.count() == 0
    kinds = list(TicketEvent.objects.filter(ticket=ticket, kind__startswith="order").values_list("kind", "actor"))
    assert kinds == [("order_linked", alice.pk), ("order_unlinked", alice.pk)]


def test_unknown_order_number_is_reported(client, account, alice):
    outcome = email_from_john(account, "Hello")
    login(client, alice)
    page = client.post(f"/tickets/{outcome.ticket_id}/orders/link/", {"reference": "#123"}, follow=True)
    assert "No order #123 in this store." in page.content.decode()


def test_order_action_asks_for_confirmation_before_calling_the_shop(client, server, account, alice):
    order = paid_order(client, account)
    outcome = email_from_john(account, "Cancel #9999 please")
    login(client, alice)
    page = client.post(f"/tickets/{outcome.ticket_id}/orders/{order.pk}/cancel/", {"reason": "customer"})
    assert page.status_code == 200
    assert "Cancel order #9999 in the shop?" in page.content.decode()
    assert server.requests == []
    assert not TicketEvent.objects.filter(kind="order_action").exists()


def test_confirmed_order_action_runs_and_shows_the_shops_answer(client, server, account, alice):
    order = paid_order(client, account)
    outcome = email_from_john(account, "Please add a note to #9999")
    server.route("PUT", f"/admin/api/2025-01/orders/{order.external_id}.json", [Answer(200, {"order": {"id": 1}})])
    login(client, alice)
    page = client.post(f"/tickets/{outcome.ticket_id}/orders/{order.pk}/note/",
                       {"note": "Gift wrap", "confirmed": "1"}, follow=True)
    assert "Shopify saved the order note." in page.content.decode()
    event = TicketEvent.objects.get(kind="order_action")
    assert (event.actor, event.data["ok"], event.data["note"]) == (alice, True, "Gift wrap")


def test_confirmed_order_action_shows_the_shops_error(client, server, account, alice):
    order = paid_order(client, account)
    outcome = email_from_john(account, "Cancel #9999")
    server.route("POST", f"/admin/api/2025-01/orders/{order.external_id}/cancel.json",
                 [Answer(422, {"errors": "Cannot cancel an order that has been fulfilled"})])
    login(client, alice)
    page = client.post(f"/tickets/{outcome.ticket_id}/orders/{order.pk}/cancel/",
                       {"reason": "customer", "confirmed": "1"}, follow=True)
    assert "The shop refused: Cannot cancel an order that has been fulfilled" in page.content.decode()
    assert Order.objects.get().status == Order.Status.PAID


def test_api_order_action_and_unlink(client, server, account, alice, client_for):
    order = paid_order(client, account)
    outcome = email_from_john(account, "Refund #9999")
    api = client_for(alice)
    path = f"/api/v1/tickets/{outcome.ticket_id}/orders/{order.pk}"
    server.route("POST", f"/admin/api/2025-01/orders/{order.external_id}/refunds/calculate.json",
                 [Answer(500, {"errors": "Internal"})])
    refused = api.post(f"{path}/refund/", {"reason": "late"})
    assert refused.status_code == 502
    assert refused.json()["ok"] is False and refused.json()["message"] == "Internal"
    unlinked = api.post(f"{path}/unlink/", {})
    assert unlinked.status_code == 200
    assert Ticket.objects.get(pk=outcome.ticket_id).orders.count() == 0
    assert api.post(f"{path}/refund/", {}).status_code == 404  # no longer linked


def test_canned_response_order_variables(client, account):
    order = paid_order(client, account)
    process_stored_event(post_shopify(client, account, corpus_bytes(FULFILLMENT), "fulfillments/create", "w-f"))
    ticket = Ticket.objects.get(pk=email_from_john(account, "Where is #9999?").ticket_id)
    canned = CannedResponse.objects.create(
        title="Where", body="{{ order_number }}: {{ order_status }}, {{ order_total }}. {{ order_items }} {{ tracking_link }}")
    text = render_canned_response(canned, ticket)
    assert text.startswith("#9999: Shipped, 404.95 USD. 1 × Aviator sunglasses, 1 × Lens Protection Plan (2 Year),")
    assert text.endswith("https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630")
    assert order.total == Decimal("404.95")
