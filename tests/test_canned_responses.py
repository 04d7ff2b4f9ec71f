"""Canned responses fill known placeholders from the ticket and leave everything else alone."""

from __future__ import annotations

import pytest

from tests.factories import (
    CannedResponseFactory,
    CustomerFactory,
    OrderFactory,
    ShipmentFactory,
    StoreFactory,
    TicketFactory,
)
from tickets.canned import render_canned_response

pytestmark = pytest.mark.django_db


def test_placeholders_are_filled_from_customer_order_and_shipment(alice):
    store = StoreFactory(name="Casa Lumbre")
    customer = CustomerFactory(name="Ana María López")
    ticket = TicketFactory(store=store, customer=customer)
    order = OrderFactory(store=store, customer=customer, number="402-1234567-1234567")
    ShipmentFactory(order=order, tracking_number="PK43BG0440480520108002B", tracking_url="https://www.correos.es/t/PK43")
    ticket.orders.add(order)
    canned = CannedResponseFactory(
        body="Hola {{ customer_first_name }}, tu pedido {{order_number}} va en camino: {{ tracking_link }}. "
        "{{ store_name }} · {{ agent_first_name }} · {{ unknown_thing }} · {% load evil %}"
    )

    text = render_canned_response(canned, ticket, agent=alice)

    assert text == (
        "Hola Ana, tu pedido 402-1234567-1234567 va en camino: https://www.correos.es/t/PK43. "
        "Casa Lumbre · Alice · {{ unknown_thing }} · {% load evil %}"
    )


def test_without_an_order_the_order_placeholders_are_empty():
    ticket = TicketFactory(customer=CustomerFactory(name="Ion Popescu"))
    canned = CannedResponseFactory(body="Bună {{ customer_first_name }}! [{{ order_number }}][{{ tracking_number }}]")
    assert render_canned_response(canned, ticket) == "Bună Ion! [][]"
