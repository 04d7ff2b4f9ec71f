"""The ticket page's order panel (tickets.orders.order_panel): what it shows, and that it costs two
queries whatever the number of linked orders, lines, shipments, refunds and other orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import (
    ChannelAccountFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ShipmentFactory,
    StoreFactory,
    TicketFactory,
)
from tickets.models import Order, Refund
from tickets.orders import order_panel

pytestmark = pytest.mark.django_db


def _ticket_with_orders(linked: int, lines: int, others: int):
    store = StoreFactory()
    account = ChannelAccountFactory(store=store, provider="shopify", channel="shopify")
    customer = CustomerFactory()
    ticket = TicketFactory(store=store, customer=customer)
    now = timezone.now()
    orders = []
    for n in range(linked + others):
        order = OrderFactory(store=store, customer=customer, channel_account=account,
                             placed_at=now - timedelta(days=n), total=Decimal("10.05"))
        orders.append(order)
    for order in orders[:linked]:
        ticket.orders.add(order)
        for m in range(lines):
            OrderLineFactory(order=order, title=f"Line {m}", quantity=m + 1, unit_price=Decimal("0.10"),
                             total=Decimal("0.10") * (m + 1))
            ShipmentFactory(order=order, tracking_number=f"T{order.pk}-{m}")
            Refund.objects.create(order=order, external_id=f"r{m}", amount=Decimal("1.01"), currency="EUR",
                                  reason="damaged")
    return ticket, orders


@pytest.mark.parametrize(("linked", "lines", "others"), [(1, 1, 0), (1, 1, 1), (12, 8, 30)])
def test_the_panel_takes_two_queries_whatever_the_number_of_orders(linked, lines, others):
    ticket, _ = _ticket_with_orders(linked, lines, others)
    ticket.refresh_from_db()

    with CaptureQueriesContext(connection) as captured:
        panel = order_panel(ticket)

    assert len(captured.captured_queries) == 2
    assert len(panel.linked) == linked
    assert all(len(view.lines) == lines and len(view.shipments) == lines and len(view.refunds) == lines
               for view in panel.linked)
    assert len(panel.other_orders) == min(others, 10)


def test_linked_orders_carry_exact_lines_shipments_refunds_and_actions():
    ticket, orders = _ticket_with_orders(linked=2, lines=2, others=0)
    newest = orders[0]
    newest.shipping_address = {"name": "Ana Pop", "address1": "Str. Lungă 5", "city": "Cluj", "zip": "400000"}
    newest.save()
    ShipmentFactory(order=newest, tracking_url="javascript:alert(1)", tracking_number="BAD")

    panel = order_panel(ticket)

    first = panel.linked[0]
    assert [view.order.pk for view in panel.linked] == [orders[0].pk, orders[1].pk]
    assert first.order.store.name == newest.store.name
    assert [(line.title, line.quantity, line.unit_price, line.total) for line in first.lines] == [
        ("Line 0", 1, Decimal("0.10"), Decimal("0.10")), ("Line 1", 2, Decimal("0.10"), Decimal("0.20"))]
    assert all(isinstance(line.total, Decimal) for line in first.lines)
    assert [view.shipment.tracking_number for view in first.shipments][-1] == "BAD"
    assert first.shipments[-1].tracking_href == ""
    assert first.shipments[0].tracking_href.startswith("https://www.dhl.com/")
    assert [(refund.amount, refund.reason) for refund in first.refunds] == [(Decimal("1.01"), "damaged")] * 2
    assert first.refunds[0].created_at is not None
    assert first.shipping_address == ["Ana Pop", "Str. Lungă 5", "400000 Cluj"]
    assert first.actions == ("refund", "cancel", "note")


def test_other_orders_exclude_linked_ones_newest_first_and_lifetime_spend_skips_cancelled():
    ticket, orders = _ticket_with_orders(linked=1, lines=0, others=3)
    Order.objects.filter(pk=orders[3].pk).update(status=Order.Status.CANCELLED)
    OrderFactory(customer=ticket.customer, currency="RON", total=Decimal("100.00"))

    panel = order_panel(ticket)

    assert [order.pk for order in panel.other_orders][1:] == [orders[1].pk, orders[2].pk, orders[3].pk]
    assert panel.other_orders[0].currency == "RON"
    assert isinstance(panel.other_orders[1].shipping_address, dict)
    spend = {item.currency: (item.total, item.order_count) for item in panel.lifetime_spend}
    assert spend == {"EUR": (Decimal("30.15"), 3), "RON": (Decimal("100.00"), 1)}


def test_a_customer_with_only_the_linked_order_still_has_lifetime_spend():
    ticket, _ = _ticket_with_orders(linked=1, lines=0, others=0)

    panel = order_panel(ticket)

    assert panel.other_orders == []
    assert [(item.currency, item.total) for item in panel.lifetime_spend] == [("EUR", Decimal("10.05"))]


def test_other_orders_and_spend_are_limited_to_the_stores_the_agent_sees():
    ticket, orders = _ticket_with_orders(linked=1, lines=0, others=1)
    elsewhere = OrderFactory(customer=ticket.customer, total=Decimal("7.00"))

    with CaptureQueriesContext(connection) as captured:
        panel = order_panel(ticket, store_ids=frozenset({ticket.store_id}))

    assert len(captured.captured_queries) == 2
    assert [order.pk for order in panel.other_orders] == [orders[1].pk]
    assert [(item.currency, item.total) for item in panel.lifetime_spend] == [("EUR", Decimal("20.10"))]
    everything = order_panel(ticket)
    assert {order.pk for order in everything.other_orders} == {orders[1].pk, elsewhere.pk}
