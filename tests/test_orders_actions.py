"""Order actions from a ticket (refund, cancel, note), carried out against a local HTTP server on
127.0.0.1 speaking Shopify's and WooCommerce's documented formats: success and provider errors,
both recorded on the ticket's timeline."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.factories import CustomerFactory
from tests.shop_helpers import Answer, ShopServer, shopify_account, woo_account
from tests.webhook_helpers import corpus_bytes
from tickets import actions, order_actions
from tickets.models import Order, TicketEvent
from tickets.orders import upsert_order

pytestmark = pytest.mark.django_db

SHOPIFY_ORDER = json.loads(corpus_bytes("api/shopify-admin-rest/shopify-python-api-order.json"))["order"]
SHOPIFY_REFUND = json.loads(corpus_bytes("api/shopify-admin-rest/shopify-python-api-refund.json"))
WOO_ORDER = json.loads(corpus_bytes("webhooks/woocommerce/order-created-body.json"))
WOO_REFUND = json.loads(corpus_bytes("webhooks/woocommerce/order-refund-created-body.json"))
WOO_NOTE = json.loads(corpus_bytes("webhooks/woocommerce/order-note-created-body.json"))
BASE = "/admin/api/2025-01/orders/450789469"


@pytest.fixture
def server():
    with ShopServer() as running:
        yield running


def _ticket_with(order):
    ticket = actions.create_ticket(store=order.store, channel="email", customer=order.customer or CustomerFactory())
    actions.link_order(ticket=ticket, order=order)
    return ticket


@pytest.fixture
def shopify(server):
    from channels_ingest.adapters.shopify.normalize import order

    account = shopify_account(api_base_url=server.url)
    outcome = upsert_order(account=account, normalized=order(SHOPIFY_ORDER))
    stored = Order.objects.get(pk=outcome.order_id)
    return stored, _ticket_with(stored)


@pytest.fixture
def woo(server):
    from channels_ingest.adapters.woocommerce.normalize import order

    account = woo_account(site_url=server.url)
    outcome = upsert_order(account=account, normalized=order(WOO_ORDER))
    stored = Order.objects.get(pk=outcome.order_id)
    return stored, _ticket_with(stored)


def _calculated():
    return {"refund": {"shipping": {"amount": "0.00"}, "refund_line_items": [],
                       "transactions": [{"order_id": 450789469, "kind": "suggested_refund", "gateway": "bogus",
                                         "parent_id": 389404469, "amount": "199.00", "currency": "USD",
                                         "maximum_refundable": "409.94"}]}}


def test_shopify_refund_of_one_line_calculates_then_creates_and_records_it(server, shopify):
    order, ticket = shopify
    server.route("POST", f"{BASE}/refunds/calculate.json", [Answer(200, _calculated())])
    created = json.loads(json.dumps(SHOPIFY_REFUND))
    created["refund"]["transactions"] = [{"id": 179259969, "kind": "refund", "status": "success", "amount": "199.00"}]
    server.route("POST", f"{BASE}/refunds.json", [Answer(201, created)])
    line = order.lines.get(external_id="466157049")
    result = order_actions.refund_order(ticket=ticket, order=order, lines=[(line.pk, 1)], reason="broken")
    assert result.ok, result.message
    calculate, create = (json.loads(request.body) for request in server.requests)
    assert calculate["refund"]["refund_line_items"] == [
        {"line_item_id": 466157049, "quantity": 1, "restock_type": "no_restock"}]
    assert create["refund"]["transactions"] == [
        {"parent_id": 389404469, "amount": "199.00", "kind": "refund", "gateway": "bogus"}]
    assert create["refund"]["note"] == "broken"
    refund = order.refunds.get()
    assert (refund.external_id, refund.amount) == ("509562969", Decimal("199.00"))
    event = TicketEvent.objects.get(ticket=ticket, kind="order_action")
    assert event.data["ok"] is True and event.data["action"] == "refund"
    assert "Shopify refunded 199.00 USD" in event.data["message"]


def test_shopify_full_refund_asks_for_every_line_and_the_shipping(server, shopify):
    order, ticket = shopify
    server.route("POST", f"{BASE}/refunds/calculate.json", [Answer(200, _calculated())])
    server.route("POST", f"{BASE}/refunds.json", [Answer(201, SHOPIFY_REFUND)])
    assert order_actions.refund_order(ticket=ticket, order=order).ok
    calculate = json.loads(server.requests[0].body)["refund"]
    assert calculate["shipping"] == {"full_refund": True}
    assert len(calculate["refund_line_items"]) == order.lines.count()


def test_shopify_refund_error_is_shown_and_recorded_and_nothing_refunded(server, shopify):
    order, ticket = shopify
    server.route("POST", f"{BASE}/refunds/calculate.json",
                 [Answer(422, {"errors": {"refund_line_items": ["quantity cannot refund more items than were purchased"]}})])
    result = order_actions.refund_order(ticket=ticket, order=order)
    assert not result.ok
    assert "cannot refund more items than were purchased" in result.message
    assert order.refunds.count() == 0
    event = TicketEvent.objects.get(ticket=ticket, kind="order_action")
    assert event.data["ok"] is False and "cannot refund more items" in event.data["message"]


def test_shopify_cancel_updates_the_order_from_the_answer(server, shopify):
    order, ticket = shopify
    cancelled = dict(SHOPIFY_ORDER, cancelled_at="2026-03-01T10:00:00-05:00", updated_at="2026-03-01T10:00:00-05:00",
                     cancel_reason="customer")
    server.route("POST", f"{BASE}/cancel.json", [Answer(200, {"order": cancelled})])
    result = order_actions.cancel_order(ticket=ticket, order=order, reason="customer")
    assert result.ok
    assert json.loads(server.requests[0].body) == {"reason": "customer"}
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_shopify_note_replaces_the_order_note(server, shopify):
    order, ticket = shopify
    server.route("PUT", f"{BASE}.json", [Answer(200, {"order": dict(SHOPIFY_ORDER, note="Customer called")})])
    assert order_actions.add_order_note(ticket=ticket, order=order, note="Customer called").ok
    assert json.loads(server.requests[0].body) == {"order": {"id": 450789469, "note": "Customer called"}}


def test_shopify_expired_token_is_shown(server, shopify):
    order, ticket = shopify
    server.route("PUT", f"{BASE}.json", [Answer(401, {"errors": "[API] Invalid API key or access token"})])
    result = order_actions.add_order_note(ticket=ticket, order=order, note="x")
    assert not result.ok and result.message == "[API] Invalid API key or access token"


def test_woocommerce_full_refund_posts_the_remaining_amount(server, woo):
    order, ticket = woo
    server.route("POST", "/wp-json/wc/v3/orders/727/refunds", [Answer(201, dict(WOO_REFUND, amount="29.35"))])
    result = order_actions.refund_order(ticket=ticket, order=order, reason="damaged")
    assert result.ok, result.message
    assert json.loads(server.requests[0].body) == {"amount": "29.35", "reason": "damaged", "api_refund": True}
    assert order.refunds.get().amount == Decimal("29.35")
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_woocommerce_refund_by_line(server, woo):
    order, ticket = woo
    server.route("POST", "/wp-json/wc/v3/orders/727/refunds", [Answer(201, dict(WOO_REFUND, amount="3.00"))])
    line = order.lines.get(external_id="315")
    assert order_actions.refund_order(ticket=ticket, order=order, lines=[(line.pk, 1)]).ok
    body = json.loads(server.requests[0].body)
    assert body["amount"] == "3.00"
    assert body["line_items"] == [{"id": 315, "quantity": 1, "refund_total": "3.00"}]


def test_woocommerce_refund_error_is_recorded(server, woo):
    order, ticket = woo
    server.route("POST", "/wp-json/wc/v3/orders/727/refunds",
                 [Answer(400, {"code": "woocommerce_rest_cannot_create_order_refund",
                               "message": "Invalid refund amount.", "data": {"status": 400}})])
    result = order_actions.refund_order(ticket=ticket, order=order)
    assert (result.ok, result.message) == (False, "Invalid refund amount.")
    assert order.refunds.count() == 0


def test_woocommerce_note(server, woo):
    order, ticket = woo
    server.route("POST", "/wp-json/wc/v3/orders/727/notes", [Answer(201, WOO_NOTE)])
    result = order_actions.add_order_note(ticket=ticket, order=order, note="Order ok!!!")
    assert result.ok and "281" in result.message
    assert json.loads(server.requests[0].body) == {"note": "Order ok!!!", "customer_note": False}


def test_woocommerce_cannot_cancel_from_here(server, woo):
    order, ticket = woo
    with pytest.raises(order_actions.OrderActionNotAllowed):
        order_actions.cancel_order(ticket=ticket, order=order)
    assert server.requests == []


def test_action_on_an_order_not_linked_to_the_ticket_is_refused(server, woo):
    order, _ = woo
    other = actions.create_ticket(store=order.store, channel="email", customer=CustomerFactory())
    with pytest.raises(order_actions.OrderActionNotAllowed):
        order_actions.add_order_note(ticket=other, order=order, note="x")
    assert server.requests == []
