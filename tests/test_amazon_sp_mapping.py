"""Every documented SP-API order payload in the shared corpus (api/amazon-sp-api/) becomes the
right order, or is refused with a stated reason."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from channels_ingest.adapters.amazon_sp.normalize import order_from_document
from channels_ingest.adapters.amazon_sp.sync import store_amazon_order
from channels_ingest.base import ParseError
from tests.amazon_sp_helpers import amazon_account, corpus_json
from tickets.models import ChannelIdentity, Order, Shipment

pytestmark = pytest.mark.django_db


def stored(name: str, items=None) -> Order:
    account = amazon_account()
    outcome = store_amazon_order(account, order_from_document(corpus_json(name), items))
    return Order.objects.get(pk=outcome.order_id)


def test_v0_example_pending_order_without_total():
    order = stored("orders-v0-getOrder-example.json")
    assert (order.external_id, order.number, order.marketplace, order.marketplace_site) == (
        "902-3159896-1390916", "902-3159896-1390916", "amazon", "amazon.com")
    assert (order.status, order.payment_status) == (Order.Status.PENDING, "pending")
    assert order.total == Decimal("0")  # Amazon gives no OrderTotal while payment is pending
    assert order.placed_at == datetime(2017, 1, 20, 19, 49, 35, tzinfo=UTC)
    assert order.shipping_address["city"] == "Canton"
    assert order.shipping_address["country_code"] == "US"
    assert order.customer.email == "user@example.com"
    assert order.cancellation_requested_at is None


def test_v0_sandbox_iba_de_shipped_business_order():
    order = stored("orders-v0-getOrder-sandbox-iba-de.json")
    assert (order.external_id, order.marketplace_site) == ("921-3175655-0452641", "amazon.de")
    assert (order.status, order.payment_status) == (Order.Status.SHIPPED, "paid")
    # The order's own total and currency, not those of the Brazilian payment detail.
    assert (order.total, order.currency) == (Decimal("100.00"), "EUR")
    assert order.customer is None  # no buyer info: nothing to link by identity


def test_v0_sandbox_mfn_unshipped():
    order = stored("orders-v0-getOrder-sandbox-mfn-unshipped.json")
    assert (order.external_id, order.status, order.total, order.currency) == (
        "902-1845936-5435065", Order.Status.PAID, Decimal("11.01"), "USD")
    assert order.marketplace_site == "amazon.com"


def test_v0_order_with_its_items():
    items = corpus_json("orders-v0-getOrderItems-example.json")["payload"]["OrderItems"]
    order = stored("orders-v0-getOrder-sandbox-mfn-unshipped.json", items)
    assert list(order.lines.values_list("sku", "title", "quantity", "total")) == [
        ("CBA_OTF_1", "Example item name", 1, Decimal("25.99")),
        ("CBA_OTF_5", "Example item name", 2, Decimal("17.95")),
    ]
    assert order.total == Decimal("11.01")  # the order's total stands; the items add the breakdown
    assert (order.subtotal, order.shipping_total) == (Decimal("43.94"), Decimal("1.26"))
    assert order.cancellation_reason == "Found cheaper somewhere else."


def test_2026_order_with_relay_buyer_items_and_package():
    order = stored("orders-2026-01-01-getOrder-example.json")
    assert (order.external_id, order.marketplace_site, order.status) == (
        "202-1234567-8901234", "amazon.co.uk", Order.Status.SHIPPED)
    assert (order.total, order.subtotal, order.shipping_total, order.tax_total, order.currency) == (
        Decimal("103.97"), Decimal("89.97"), Decimal("10.00"), Decimal("4.00"), "GBP")
    assert list(order.lines.values_list("external_id", "sku", "quantity", "unit_price", "total")) == [
        ("20212345678901", "ECHO-DOT-4-UK-CHARCOAL-3PACK", 3, Decimal("29.99"), Decimal("89.97"))]
    shipment = order.shipments.get()
    assert (shipment.carrier, shipment.tracking_number, shipment.status) == (
        "Royal Mail", "RR123456789GB", Shipment.Status.IN_TRANSIT)
    # The anonymised relay address is the buyer's "amazon_relay" identity, as on their emails.
    identity = ChannelIdentity.objects.get(customer=order.customer)
    assert (identity.kind, identity.value) == ("amazon_relay", "buyer-email@marketplace.amazon.co.uk")
    assert order.customer.email == ""
    assert order.shipping_address["company"] == "Wilson Electronics Ltd"


def test_relay_buyer_order_and_relay_email_meet_on_one_customer():
    from channels_ingest.base import CustomerHandle
    from tickets.ingest import resolve_customer

    order = stored("orders-2026-01-01-getOrder-example.json")
    handle = CustomerHandle(kind="amazon_relay", value="buyer-email@marketplace.amazon.co.uk")
    assert resolve_customer(account=order.channel_account, handle=handle) == order.customer


@pytest.mark.parametrize(("name", "reason"), [
    ("messaging-v1-getMessagingActionsForOrder-example.json", "a Messaging API answer"),
    ("orders-v0-getOrderItems-example.json", "an order's items alone"),
])
def test_non_order_documents_are_refused_with_a_reason(name, reason):
    with pytest.raises(ParseError, match=reason):
        order_from_document(corpus_json(name))


def test_bad_amount_and_bad_order_id_are_refused():
    document = corpus_json("orders-v0-getOrder-sandbox-mfn-unshipped.json")
    document["payload"]["OrderTotal"]["Amount"] = "eleven"
    with pytest.raises(ParseError, match="not an amount"):
        order_from_document(document)
    document = corpus_json("orders-v0-getOrder-example.json")
    document["payload"]["AmazonOrderId"] = "12345"
    with pytest.raises(ParseError, match="not an Amazon order id"):
        order_from_document(document)


def test_same_order_twice_is_one_row():
    account = amazon_account()
    for _ in range(2):
        store_amazon_order(account, order_from_document(corpus_json("orders-v0-getOrder-sandbox-iba-de.json")))
    assert Order.objects.filter(external_id="921-3175655-0452641").count() == 1


def _order_change(**changes) -> bytes:
    import json

    from tests.webhook_helpers import corpus_bytes

    data = json.loads(corpus_bytes("webhooks/amazon-sp-api/order-change-buyer-requested-cancel.json"))
    change = data["Payload"]["OrderChangeNotification"]
    change.update(changes.get("change", {}))
    change["Summary"].update(changes.get("summary", {}))
    for item in change["Summary"]["OrderItems"]:
        item["IsBuyerRequestedCancel"] = changes.get("item_cancel", True)
    return json.dumps(data).encode()


def test_order_status_change_to_canceled_cancels_a_known_order():
    from channels_ingest.adapters.amazon_sp.notifications import parse_notification
    from tests.factories import OrderFactory

    account = amazon_account()
    order = OrderFactory(store=account.store, marketplace="amazon", external_id="903-8868176-2219830",
                         number="903-8868176-2219830", status=Order.Status.PAID, total=Decimal("10.00"))
    body = _order_change(change={"OrderChangeType": "OrderStatusChange",
                                 "OrderChangeTrigger": {"TimeOfOrderChange": "2022-11-30T10:00:00Z",
                                                        "ChangeReason": "Order Status Change"}},
                         summary={"OrderStatus": "Canceled"}, item_cancel=False)
    parsed = parse_notification(body)
    assert parsed.change.cancel_requested is False
    store_amazon_order(account, parsed.change)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.cancellation_requested_at is None
    assert order.total == Decimal("10.00")


def test_an_older_order_change_does_not_overwrite_a_newer_state():
    from channels_ingest.adapters.amazon_sp.notifications import parse_notification

    account = amazon_account()
    newer = _order_change(change={"OrderChangeType": "OrderStatusChange",
                                  "OrderChangeTrigger": {"TimeOfOrderChange": "2022-12-01T10:00:00Z"}},
                          summary={"OrderStatus": "Shipped"}, item_cancel=False)
    older = _order_change(change={"OrderChangeType": "OrderStatusChange",
                                  "OrderChangeTrigger": {"TimeOfOrderChange": "2022-11-30T10:00:00Z"}},
                          summary={"OrderStatus": "Unshipped"}, item_cancel=False)
    store_amazon_order(account, parse_notification(newer).change)
    store_amazon_order(account, parse_notification(older).change)
    assert Order.objects.get().status == Order.Status.SHIPPED


def test_unknown_notification_type_is_skipped_with_a_reason():
    from channels_ingest.adapters.amazon_sp.notifications import parse_notification
    from channels_ingest.base import Skipped

    parsed = parse_notification(b'{"NotificationType": "ANY_OFFER_CHANGED", "NotificationMetadata": {"NotificationId": "x"}}')
    assert isinstance(parsed.change, Skipped)
    assert parsed.change.reason == "ANY_OFFER_CHANGED: a notification type the helpdesk does not use"
