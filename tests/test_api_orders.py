"""Orders over the API: filters, detail with lines and shipments, and recording one by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.factories import (
    ChannelAccountFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ShipmentFactory,
    StoreFactory,
)
from tickets import actions
from tickets.models import Order, OrderLine, Shipment

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def placed(day: int) -> datetime:
    return datetime(2026, 2, day, 10, 0, tzinfo=UTC)


@pytest.fixture
def orders() -> dict[str, Order]:
    ana, ion = CustomerFactory(name="Ana"), CustomerFactory(name="Ion")
    return {
        "shopify": OrderFactory(
            customer=ana,
            marketplace="shopify",
            number="#1001",
            external_id="820982911946154508",
            placed_at=placed(1),
        ),
        "amazon": OrderFactory(
            customer=ana,
            marketplace="amazon",
            number="402-1234567-1234567",
            external_id="402-1234567-1234567",
            placed_at=placed(3),
        ),
        "ions": OrderFactory(
            customer=ion,
            marketplace="shopify",
            number="#1002",
            external_id="820982911946154509",
            placed_at=placed(2),
        ),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["amazon", "ions", "shopify"]),
        ({"number": "#1001"}, ["shopify"]),
        ({"number": "1001"}, ["shopify"]),
        ({"number": "820982911946154509"}, ["ions"]),
        ({"number": "402-1234567-1234567"}, ["amazon"]),
        ({"number": "100"}, []),
    ],
    ids=[
        "newest-first",
        "number",
        "number-without-hash",
        "marketplace-id",
        "amazon-number",
        "no-partial-match",
    ],
)
def test_list_filters_by_number(client_for, alice, orders, params, expected):
    assert client_for(alice).ids(ORDERS, params) == [orders[name].pk for name in expected]


def test_list_filters_by_customer(client_for, alice, orders):
    ana = orders["shopify"].customer_id

    assert client_for(alice).ids(ORDERS, {"customer": ana}) == [
        orders["amazon"].pk,
        orders["shopify"].pk,
    ]


def test_detail_has_lines_and_shipments(client_for, alice):
    order = OrderFactory(
        number="#1042",
        status="partially_shipped",
        currency="RON",
        subtotal=Decimal("89.80"),
        shipping_total=Decimal("15.00"),
        tax_total=Decimal("19.90"),
        total=Decimal("124.70"),
        placed_at=placed(10),
        billing_address={"name": "Ana Pop", "city": "Iași"},
    )
    mug = OrderLineFactory(
        order=order,
        sku="MUG-1",
        title="Ceramic mug",
        quantity=2,
        unit_price=Decimal("44.90"),
        total=Decimal("89.80"),
    )
    parcel = ShipmentFactory(
        order=order,
        carrier="Fan Courier",
        tracking_number="2300001",
        tracking_url="",
        status="delivered",
    )

    body = client_for(alice).get(f"{ORDERS}{order.pk}/").json()

    assert {
        key: body[key]
        for key in (
            "number",
            "status",
            "currency",
            "subtotal",
            "shipping_total",
            "tax_total",
            "total",
            "placed_at",
        )
    } == {
        "number": "#1042",
        "status": "partially_shipped",
        "currency": "RON",
        "subtotal": "89.80",
        "shipping_total": "15.00",
        "tax_total": "19.90",
        "total": "124.70",
        "placed_at": "2026-02-10T10:00:00Z",
    }
    assert body["billing_address"] == {"name": "Ana Pop", "city": "Iași"}
    assert [
        (line["id"], line["sku"], line["quantity"], line["total"]) for line in body["lines"]
    ] == [(mug.pk, "MUG-1", 2, "89.80")]
    assert [
        (s["id"], s["carrier"], s["tracking_number"], s["status"]) for s in body["shipments"]
    ] == [
        (parcel.pk, "Fan Courier", "2300001", "delivered"),
    ]


def test_administrator_records_an_order_with_lines_and_shipments(client_for, charlie):
    store = StoreFactory()
    account = ChannelAccountFactory(store=store, channel="ebay", provider="ebay")
    customer = CustomerFactory()

    response = client_for(charlie).post(
        ORDERS,
        {
            "store": store.pk,
            "channel_account": account.pk,
            "customer": customer.pk,
            "marketplace": "ebay",
            "external_id": "12-34567-89012",
            "number": "12-34567-89012",
            "status": "paid",
            "currency": "EUR",
            "subtotal": "30.00",
            "shipping_total": "4.50",
            "tax_total": "0.00",
            "total": "34.50",
            "placed_at": "2026-02-20T08:15:00Z",
            "lines": [
                {
                    "sku": "TEA-1",
                    "title": "Green tea",
                    "quantity": 3,
                    "unit_price": "10.00",
                    "total": "30.00",
                }
            ],
            "shipments": [{"carrier": "DPD", "tracking_number": "0150123", "status": "pending"}],
        },
    )

    assert response.status_code == 201, response.content
    order = Order.objects.get()
    assert response.json()["id"] == order.pk
    assert (
        order.store,
        order.channel_account,
        order.customer,
        order.marketplace,
        order.number,
    ) == (
        store,
        account,
        customer,
        "ebay",
        "12-34567-89012",
    )
    assert (order.total, order.placed_at) == (
        Decimal("34.50"),
        datetime(2026, 2, 20, 8, 15, tzinfo=UTC),
    )
    assert list(order.lines.values_list("sku", "title", "quantity", "unit_price", "total")) == [
        ("TEA-1", "Green tea", 3, Decimal("10.00"), Decimal("30.00")),
    ]
    assert list(order.shipments.values_list("carrier", "tracking_number", "status")) == [
        ("DPD", "0150123", "pending")
    ]
    assert [line["title"] for line in response.json()["lines"]] == ["Green tea"]


def test_the_same_marketplace_order_cannot_be_recorded_twice(client_for, charlie):
    existing = OrderFactory(marketplace="shopify", external_id="555")

    response = client_for(charlie).post(
        ORDERS,
        {
            "store": existing.store_id,
            "marketplace": "shopify",
            "external_id": "555",
            "number": "#555",
            "lines": [{"title": "Mug"}],
        },
    )

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["The fields store, marketplace, external_id must make a unique set."]
    }
    assert list(Order.objects.all()) == [existing]
    assert not OrderLine.objects.exists()


def post_invalid_order(client, change: dict) -> dict:
    """Post an otherwise valid order with `change` applied; check it was refused and nothing stored."""
    body = {
        "store": StoreFactory().pk,
        "marketplace": "shopify",
        "external_id": "777",
        "number": "#777",
    }

    response = client.post(ORDERS, {**body, **change})

    assert response.status_code == 400
    assert (
        not Order.objects.exists()
        and not OrderLine.objects.exists()
        and not Shipment.objects.exists()
    )
    return response.json()


def test_line_without_title_stores_nothing(client_for, charlie):
    errors = post_invalid_order(client_for(charlie), {"lines": [{"quantity": 1}]})

    assert errors == {"lines": {"0": {"title": ["This field is required."]}}}


def test_channel_account_of_another_store_stores_nothing(client_for, charlie):
    account = ChannelAccountFactory(store=StoreFactory())

    errors = post_invalid_order(client_for(charlie), {"channel_account": account.pk})

    assert errors == {"channel_account": ["This channel account belongs to another store."]}


def test_order_for_a_merged_customer_stores_nothing(client_for, charlie):
    merged, survivor = CustomerFactory(), CustomerFactory()
    actions.merge_customers(source=merged, target=survivor)

    errors = post_invalid_order(client_for(charlie), {"customer": merged.pk})

    assert errors == {
        "customer": [f"Customer {merged.pk} was merged into customer {survivor.pk}; use that one."]
    }
