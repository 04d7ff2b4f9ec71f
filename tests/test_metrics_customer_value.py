"""Lifetime value per customer: on the ticket page, through the API, and the spender segments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from metrics.customer_value import lifetime_value
from metrics.models import CustomerSegmentThresholds
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    StoreFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)
from tickets import actions
from tickets.models import Order

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def shop(db):
    store = StoreFactory(slug="v-store")
    ana, ion, eva = CustomerFactory(name="Ana"), CustomerFactory(name="Ion"), CustomerFactory(name="Eva")
    for total, day, status in (("120.00", 3, "paid"), ("30.50", 10, "delivered"), ("999.00", 12, "cancelled"),
                               ("400.00", 15, "refunded"), ("49.50", 20, "shipped")):
        OrderFactory(store=store, customer=ana, total=Decimal(total), status=status,
                     placed_at=dt.datetime(2026, 3, day, 12, tzinfo=UTC))
    OrderFactory(store=store, customer=ana, total=Decimal("80.00"), currency="RON",
                 placed_at=dt.datetime(2026, 4, 1, tzinfo=UTC))
    OrderFactory(store=store, customer=ion, total=Decimal("650.00"), placed_at=dt.datetime(2026, 5, 1, tzinfo=UTC))
    OrderFactory(store=store, customer=eva, total=Decimal("20.00"), placed_at=dt.datetime(2026, 5, 2, tzinfo=UTC))
    return {"store": store, "ana": ana, "ion": ion, "eva": eva}


def test_lifetime_value_sums_counted_orders_per_currency(shop):
    eur, ron = lifetime_value(shop["ana"])
    # 120.00 + 30.50 + 49.50; the cancelled and the refunded order do not count.
    assert (eur.currency, eur.total, eur.order_count, eur.average_order_value) == ("EUR", Decimal("200.00"), 3, Decimal("66.67"))
    assert eur.first_order_at == dt.datetime(2026, 3, 3, 12, tzinfo=UTC)
    assert eur.last_order_at == dt.datetime(2026, 3, 20, 12, tzinfo=UTC)
    assert eur.segment == "medium"  # default thresholds: medium from 100, high from 500
    assert (ron.currency, ron.total, ron.order_count, ron.segment) == ("RON", Decimal("80.00"), 1, "low")
    assert lifetime_value(CustomerFactory()) == []


def test_thresholds_are_configurable_per_currency(shop):
    CustomerSegmentThresholds.objects.create(currency="EUR", high_from=Decimal("150"), medium_from=Decimal("50"))
    assert lifetime_value(shop["ana"])[0].segment == "high"
    assert lifetime_value(shop["eva"])[0].segment == "low"


def test_a_merged_customer_value_moves_to_the_survivor(shop):
    actions.merge_customers(source=shop["eva"], target=shop["ion"])
    (value,) = lifetime_value(shop["ion"])
    assert (value.total, value.order_count) == (Decimal("670.00"), 2)


def test_ticket_page_shows_the_customer_value(client, shop):
    ticket = TicketFactory(store=shop["store"], customer=shop["ana"])
    client.force_login(UserFactory(username="v-agent", role="agent"))
    page = client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert "Lifetime value" in page
    assert "200.00 EUR" in page and "66.67 EUR" in page and "2026-03-03" in page and "Medium spender" in page


def test_api_gives_the_customer_value(client, shop):
    client.force_login(UserFactory(username="v-agent", role="agent"))
    data = client.get(f"/api/v1/metrics/customers/{shop['ana'].pk}/value/").json()
    assert data["values"][0] == {
        "currency": "EUR", "total": "200.00", "order_count": 3, "average_order_value": "66.67",
        "first_order_at": "2026-03-03T12:00:00Z", "last_order_at": "2026-03-20T12:00:00Z", "segment": "medium",
    }
    assert client.get("/api/v1/metrics/customers/999999/value/").status_code == 404


def test_segment_page_counts_customers_per_segment(client, shop):
    manager = UserFactory(username="v-manager", role="manager")
    TeamFactory(name="V team", store=shop["store"]).members.add(manager.agent_profile)
    other = StoreFactory(slug="v-other")
    OrderFactory(store=other, customer=CustomerFactory(name="Elsewhere"), total=Decimal("5000"))
    client.force_login(manager)
    response = client.get(reverse("metrics:customers"), {"currency": "EUR"})
    segments = {s["key"]: s for s in response.context["summary"]["segments"]}
    assert (segments["high"]["customers"], segments["high"]["spend"]) == (1, Decimal("650.00"))  # not the other store's
    assert (segments["medium"]["customers"], segments["low"]["customers"]) == (1, 1)
    assert [row["customer"].name for row in segments["high"]["top"]] == ["Ion"]
    assert "Ion" in response.content.decode()
    assert Order.objects.filter(store=other).exists()
