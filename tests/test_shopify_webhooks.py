"""Shopify webhooks (/hooks/shopify/<account>/): every published sample in the shared corpus,
signed with X-Shopify-Hmac-Sha256 as Shopify signs it, becomes the right order, refund,
shipment or customer; signatures are enforced before anything is stored; a replay is stored
once; a late orders/updated never overwrites a newer state."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from channels_ingest.actions import process_event
from channels_ingest.models import InboundEvent
from tests.shop_helpers import post_shopify, shopify_account
from tests.webhook_helpers import corpus_bytes, process_stored_event
from tickets.models import ChannelIdentity, Order, Refund, Shipment

pytestmark = pytest.mark.django_db

ORDERS_CREATE = "webhooks/shopify/orders-create.docs-example.json"
ORDERS_UPDATED = "webhooks/shopify/orders-updated.docs-example.json"
REFUNDS_CREATE = "webhooks/shopify/refunds-create.docs-example.json"
FULFILLMENTS_CREATE = "webhooks/shopify/fulfillments-create.docs-example.json"
CUSTOMERS_CREATE = "webhooks/shopify/customers-create.docs-example.json"
# The documented example's id, exactly as the JSON text carries it (the scraper lost the last
# digits through a JavaScript double; we must not lose any more).
ORDER_ID = "820982911946154500"


@pytest.fixture
def account():
    return shopify_account()


def deliver(client, account, sample: str, topic: str, webhook_id: str):
    return process_stored_event(post_shopify(client, account, corpus_bytes(sample), topic, webhook_id))


def test_orders_create_sample_becomes_the_order_with_lines_totals_and_customer(client, account):
    event, _ = deliver(client, account, ORDERS_CREATE, "orders/create", "w-1")
    assert event.state == InboundEvent.State.PROCESSED, event.error
    order = Order.objects.get()
    assert order.external_id == ORDER_ID
    assert (order.marketplace, order.number, order.currency) == ("shopify", "#9999", "USD")
    # The documented example is cancelled and voided.
    assert (order.status, order.payment_status) == (Order.Status.CANCELLED, "voided")
    assert (order.subtotal, order.shipping_total, order.tax_total, order.total) == (
        Decimal("404.95"), Decimal("10.00"), Decimal("0.00"), Decimal("404.95"))
    assert order.placed_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert order.shipping_address["city"] == "Shippington"
    assert order.shipping_address["country_code"] == "US"
    lines = list(order.lines.values_list("external_id", "sku", "title", "quantity", "unit_price", "total"))
    assert lines[0] == ("487817672276298560", "SKU2006-001", "Aviator sunglasses", 1, Decimal("89.99"), Decimal("89.99"))
    assert len(lines) == 5
    assert order.customer.email == "john@example.com"
    assert order.customer.name == "John Smith"
    identities = set(order.customer.identities.values_list("kind", "value", "account"))
    assert identities == {("shop_customer", "115310627314723950", account.pk), ("email", "john@example.com", None)}


def test_a_64_bit_id_beyond_float_precision_is_kept_exactly(client, account):
    body = corpus_bytes(ORDERS_CREATE).replace(ORDER_ID.encode(), b"820982911946154508", 1)
    process_stored_event(post_shopify(client, account, body, "orders/create", "w-exact"))
    assert Order.objects.get().external_id == "820982911946154508"  # a float would give ...154500 or ...154496


def test_orders_updated_after_create_updates_the_same_order(client, account):
    deliver(client, account, ORDERS_CREATE, "orders/create", "w-1")
    line_pks = sorted(Order.objects.get().lines.values_list("pk", flat=True))
    payload = json.loads(corpus_bytes(ORDERS_UPDATED))
    payload.update(updated_at="2022-01-02T10:00:00-05:00", cancelled_at=None, financial_status="paid",
                   fulfillment_status="fulfilled", name="#9999")
    body = json.dumps(payload).replace("820982911946154500", ORDER_ID).encode()
    event, _ = process_stored_event(post_shopify(client, account, body, "orders/updated", "w-2"))
    assert event.state == InboundEvent.State.PROCESSED
    order = Order.objects.get()
    assert (order.status, order.payment_status) == (Order.Status.SHIPPED, "paid")
    assert order.lines.count() == 5
    assert sorted(order.lines.values_list("pk", flat=True)) == line_pks  # same rows, updated in place


def test_lines_dropped_from_the_order_are_removed(client, account):
    deliver(client, account, ORDERS_CREATE, "orders/create", "w-1")
    payload = json.loads(corpus_bytes(ORDERS_UPDATED))
    payload.update(updated_at="2022-01-02T10:00:00-05:00", line_items=payload["line_items"][:2])
    process_stored_event(post_shopify(client, account, json.dumps(payload).encode(), "orders/updated", "w-2"))
    assert list(Order.objects.get().lines.values_list("title", flat=True)) == [
        "Aviator sunglasses", "Lens Protection Plan (2 Year)"]


def test_a_late_orders_updated_never_overwrites_a_newer_state(client, account):
    newer = json.loads(corpus_bytes(ORDERS_UPDATED))
    newer.update(updated_at="2022-01-05T10:00:00-05:00", financial_status="refunded", cancelled_at=None)
    process_stored_event(post_shopify(client, account, json.dumps(newer).encode(), "orders/updated", "w-new"))
    event, _ = deliver(client, account, ORDERS_UPDATED, "orders/updated", "w-old")  # updated_at 2021-12-31
    assert event.state == InboundEvent.State.PROCESSED
    assert event.result["records"][0]["stale"] is True
    order = Order.objects.get()
    assert (order.status, order.payment_status) == (Order.Status.REFUNDED, "refunded")


def test_refunds_create_adds_the_refund_with_its_lines(client, account):
    deliver(client, account, ORDERS_CREATE, "orders/create", "w-1")
    event, _ = deliver(client, account, REFUNDS_CREATE, "refunds/create", "w-r")
    assert event.state == InboundEvent.State.PROCESSED, event.error
    refund = Refund.objects.get()
    assert refund.order.external_id == ORDER_ID
    assert (refund.external_id, refund.amount, refund.currency) == ("890088186047892400", Decimal("85.00"), "USD")
    assert refund.reason == "Things were damaged"
    assert refund.lines[0] == {"line_external_id": "487817672276298560", "quantity": 1, "amount": "89.99"}
    # The documented order is cancelled, and stays so: the refund shows beside it.
    assert Order.objects.get().status == Order.Status.CANCELLED


def test_a_refund_on_a_paid_order_makes_it_partially_refunded(client, account):
    paid = json.loads(corpus_bytes(ORDERS_CREATE))
    paid.update(cancelled_at=None, financial_status="paid")
    process_stored_event(post_shopify(client, account, json.dumps(paid).encode(), "orders/create", "w-paid"))
    deliver(client, account, REFUNDS_CREATE, "refunds/create", "w-r")
    assert Order.objects.get().status == Order.Status.PARTIALLY_REFUNDED


def test_refund_for_an_order_not_yet_known_creates_it_and_the_order_fills_in_later(client, account):
    deliver(client, account, REFUNDS_CREATE, "refunds/create", "w-r")
    stub = Order.objects.get()
    assert (stub.number, stub.lines.count()) == (ORDER_ID, 0)
    deliver(client, account, ORDERS_CREATE, "orders/create", "w-1")
    order = Order.objects.get()
    assert (order.number, order.lines.count(), order.refunds.count()) == ("#9999", 5, 1)


def test_fulfillments_create_adds_the_shipment_with_carrier_and_tracking_link(client, account):
    deliver(client, account, ORDERS_CREATE, "orders/create", "w-1")
    event, _ = deliver(client, account, FULFILLMENTS_CREATE, "fulfillments/create", "w-f")
    assert event.state == InboundEvent.State.PROCESSED, event.error
    shipment = Shipment.objects.get()
    assert (shipment.external_id, shipment.carrier, shipment.tracking_number) == ("123456", "UPS", "1z827wk74630")
    assert shipment.tracking_url == "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630"
    # Shipping a cancelled order does not revive it.
    assert Order.objects.get().status == Order.Status.CANCELLED


def test_customers_create_records_the_customer_and_identities(client, account):
    event, _ = deliver(client, account, CUSTOMERS_CREATE, "customers/create", "w-c")
    assert event.state == InboundEvent.State.PROCESSED, event.error
    identity = ChannelIdentity.objects.get(kind="shop_customer")
    assert (identity.value, identity.account_id) == ("706405506930370000", account.pk)
    assert identity.customer.email == "bob@biller.com"
    assert identity.customer.name == "Bob Biller"


def test_unused_topic_is_answered_and_kept_as_ignored_with_the_reason(client, account):
    event, _ = deliver(client, account, CUSTOMERS_CREATE, "products/create", "w-p")
    assert event.state == InboundEvent.State.IGNORED
    assert event.result["reason"] == "topic products/create is not used"


def test_replay_of_the_same_webhook_id_is_stored_once(client, account):
    body = corpus_bytes(ORDERS_CREATE)
    first = post_shopify(client, account, body, "orders/create", "same-id")
    second = post_shopify(client, account, body, "orders/create", "same-id")
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "duplicate"
    assert InboundEvent.objects.count() == 1
    process_event(first.json()["event"])
    process_event(second.json()["event"])
    assert Order.objects.count() == 1


def test_the_same_order_under_two_webhook_ids_is_one_order(client, account):
    deliver(client, account, ORDERS_CREATE, "orders/create", "w-1")
    deliver(client, account, ORDERS_CREATE, "orders/create", "w-2")
    assert InboundEvent.objects.count() == 2
    assert Order.objects.count() == 1
    assert Order.objects.get().lines.count() == 5


@pytest.mark.parametrize("signature", [None, "", "XWmrwMey6OsLMeiZKwP4FppHH3cmAiiJJAweH5Jo4bM="])
def test_missing_or_wrong_signature_is_refused_and_nothing_stored(client, account, signature):
    response = post_shopify(client, account, corpus_bytes(ORDERS_CREATE), "orders/create", signature=signature)
    assert response.status_code == 401
    assert InboundEvent.objects.count() == 0


def test_signature_of_another_body_is_refused(client, account):
    from channels_ingest.adapters.shopify.adapter import sign

    other = sign("shpss_test_client_secret", corpus_bytes(ORDERS_UPDATED) + b" ")
    assert post_shopify(client, account, corpus_bytes(ORDERS_CREATE), "orders/create", signature=other).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_account_without_client_secret_refuses_everything(client):
    account = shopify_account()
    account.set_secrets({"access_token": "x"})
    account.save()
    assert post_shopify(client, account, corpus_bytes(ORDERS_CREATE), "orders/create").status_code == 401
    assert InboundEvent.objects.count() == 0


def test_signed_body_that_is_not_json_is_kept_as_failed(client, account):
    event, _ = process_stored_event(post_shopify(client, account, b"not json", "orders/create", "w-bad"))
    assert event.state == InboundEvent.State.FAILED
    assert "not JSON" in event.error
    assert Order.objects.count() == 0


def test_the_documented_example_headers_are_refused_since_their_hmac_is_not_for_this_body(client, account):
    """Shopify's docs illustrate the headers with an HMAC of some other body and secret."""
    from tests.webhook_helpers import post_webhook

    documented = json.loads(corpus_bytes("webhooks/shopify/orders-create.headers.from-docs.json"))
    headers = {name: value for name, value in documented.items() if not name.startswith("_")}
    response = post_webhook(client, "shopify", account, corpus_bytes(ORDERS_CREATE), "application/json", headers)
    assert response.status_code == 401
    assert InboundEvent.objects.count() == 0


def test_a_delivery_for_another_shop_is_kept_as_failed_and_touches_nothing(client, account):
    from tests.webhook_helpers import post_webhook

    body = json.dumps({"shop_id": 1, "shop_domain": "other-shop.myshopify.com"}).encode()
    deliver(client, account, ORDERS_CREATE, "orders/create", "w-1")
    headers = {"X-Shopify-Topic": "shop/redact", "X-Shopify-Shop-Domain": "other-shop.myshopify.com",
               "X-Shopify-Webhook-Id": "w-other", "X-Shopify-Hmac-Sha256": sign_body(body)}
    event, _ = process_stored_event(post_webhook(client, "shopify", account, body, "application/json", headers))
    assert event.state == InboundEvent.State.FAILED
    assert "other-shop.myshopify.com" in event.error
    assert Order.objects.count() == 1


def sign_body(body: bytes) -> str:
    from channels_ingest.adapters.shopify.adapter import sign
    from tests.shop_helpers import SHOPIFY_SECRET

    return sign(SHOPIFY_SECRET, body)
