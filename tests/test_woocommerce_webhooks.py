"""WooCommerce webhooks (/hooks/woocommerce/<account>/): the published REST resources (the
bodies order and customer webhooks deliver), signed with X-WC-Webhook-Signature; the unsigned
creation ping; replays; refunds and notes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from channels_ingest.models import InboundEvent
from tests.shop_helpers import post_woo, woo_account
from tests.webhook_helpers import corpus_bytes, post_webhook, process_stored_event
from tickets.models import ChannelIdentity, Order, Refund

pytestmark = pytest.mark.django_db

CREATED = "webhooks/woocommerce/order-created-body.json"
UPDATED = "webhooks/woocommerce/order-updated-body.json"
CUSTOMER = "webhooks/woocommerce/customer-created-body.json"
REFUND = "webhooks/woocommerce/order-refund-created-body.json"
NOTE = "webhooks/woocommerce/order-note-created-body.json"


@pytest.fixture
def account():
    return woo_account()


def deliver(client, account, sample, topic, delivery):
    return process_stored_event(post_woo(client, account, corpus_bytes(sample), topic, delivery))


def test_order_created_becomes_the_order(client, account):
    event, _ = deliver(client, account, CREATED, "order.created", "d-1")
    assert event.state == InboundEvent.State.PROCESSED, event.error
    order = Order.objects.get()
    assert (order.marketplace, order.external_id, order.number, order.currency) == ("woocommerce", "727", "727", "USD")
    assert (order.status, order.payment_status) == (Order.Status.PROCESSING, "paid")
    assert (order.subtotal, order.shipping_total, order.tax_total, order.total) == (
        Decimal("18.00"), Decimal("10.00"), Decimal("1.35"), Decimal("29.35"))
    assert order.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    lines = list(order.lines.values_list("external_id", "title", "quantity", "unit_price", "total", "sku"))
    assert lines == [
        ("315", "Woo Single #1", 2, Decimal("3.00"), Decimal("6.00"), ""),
        ("316", "Ship Your Idea – Color: Black, Size: M Test", 1, Decimal("12.00"), Decimal("12.00"), "Bar3"),
    ]
    assert order.shipping_address["city"] == "San Francisco"
    # A guest order (customer_id 0): the customer is found by email.
    assert order.customer.email == "john.doe@example.com"
    assert order.customer.name == "John Doe"


def test_order_updated_moves_the_status_on(client, account):
    deliver(client, account, CREATED, "order.created", "d-1")
    event, _ = deliver(client, account, UPDATED, "order.updated", "d-2")
    assert event.state == InboundEvent.State.PROCESSED
    assert Order.objects.get().status == Order.Status.SHIPPED  # "completed": fulfilled


def test_late_order_created_after_updated_changes_nothing(client, account):
    deliver(client, account, UPDATED, "order.updated", "d-2")
    event, _ = deliver(client, account, CREATED, "order.created", "d-1")
    assert event.result["records"][0]["stale"] is True
    assert Order.objects.get().status == Order.Status.SHIPPED


def test_customer_created_records_the_customer(client, account):
    event, _ = deliver(client, account, CUSTOMER, "customer.created", "d-c")
    assert event.state == InboundEvent.State.PROCESSED, event.error
    identity = ChannelIdentity.objects.get(kind="shop_customer")
    assert (identity.value, identity.account_id, identity.customer.email) == ("25", account.pk, "john.doe@example.com")


def test_refund_resource_adds_a_refund_to_its_order(client, account):
    event, _ = deliver(client, account, REFUND, "order.updated", "d-r")
    assert event.state == InboundEvent.State.PROCESSED, event.error
    refund = Refund.objects.get()
    assert (refund.order.external_id, refund.external_id, refund.amount) == ("723", "726", Decimal("10.00"))


def test_order_note_is_ignored_for_a_stated_reason(client, account):
    event, _ = deliver(client, account, NOTE, "order.updated", "d-n")
    assert event.state == InboundEvent.State.IGNORED
    assert event.result["reason"] == "order notes are not imported"
    assert Order.objects.count() == 0


def test_creation_ping_is_answered_200_and_kept_as_ignored(client, account):
    response = post_webhook(client, "woocommerce", account, b"webhook_id=12", "application/x-www-form-urlencoded")
    assert response.status_code == 200
    event, _ = process_stored_event(response)
    assert (event.event_id, event.state, event.result["reason"]) == ("ping:12", "ignored", "webhook creation ping")
    assert Order.objects.count() == 0


def test_unsigned_body_other_than_a_ping_is_refused(client, account):
    response = post_webhook(client, "woocommerce", account, b"webhook_id=12&x=1", "application/x-www-form-urlencoded")
    assert response.status_code == 401
    assert post_woo(client, account, corpus_bytes(CREATED), "order.created", signature=None).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_wrong_signature_is_refused_and_nothing_stored(client, account):
    assert post_woo(client, account, corpus_bytes(CREATED), "order.created", signature="d3Jvbmc=").status_code == 401
    other = woo_account()
    other.set_secrets({"webhook_secret": "another secret"})
    other.save()
    assert post_woo(client, other, corpus_bytes(CREATED), "order.created").status_code == 401
    assert InboundEvent.objects.count() == 0


def test_replay_of_a_delivery_id_is_stored_once(client, account):
    first = post_woo(client, account, corpus_bytes(CREATED), "order.created", "same")
    second = post_woo(client, account, corpus_bytes(CREATED), "order.created", "same")
    assert second.json()["status"] == "duplicate"
    assert InboundEvent.objects.count() == 1
    process_stored_event(first)
    process_stored_event(second)
    assert Order.objects.count() == 1


def test_the_documented_headers_with_a_valid_signature_are_accepted(client, account):
    """The header names and values of the WooCommerce docs' example (a `.headers.json` sibling in
    the corpus), plus the signature and delivery id the docs give no value for."""
    import json

    from channels_ingest.adapters.woocommerce.adapter import sign
    from tests.shop_helpers import WOO_SECRET

    documented = json.loads(corpus_bytes("webhooks/woocommerce/webhook-headers.from-docs.json"))
    headers = {name: value for name, value in documented.items() if not name.startswith("_")}
    body = corpus_bytes(UPDATED)
    headers |= {"X-WC-Webhook-Signature": sign(WOO_SECRET, body), "X-WC-Webhook-Delivery-ID": "doc-1"}
    event, _ = process_stored_event(post_webhook(client, "woocommerce", account, body, "application/json", headers))
    assert event.state == InboundEvent.State.PROCESSED
    assert event.headers["x-wc-webhook-topic"] == "order.updated"
    assert Order.objects.get().status == Order.Status.SHIPPED
