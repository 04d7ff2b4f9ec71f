"""Shopify's mandatory privacy webhooks: customers/data_request builds the export and records
the request for the administrators; customers/redact erases the customer's personal data but
keeps the order totals; shop/redact erases what came from the shop."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from channels_ingest.models import InboundEvent
from tests.factories import CustomerFactory
from tests.shop_helpers import post_shopify, shopify_account
from tests.webhook_helpers import corpus_bytes, process_stored_event
from tickets import actions
from tickets.models import ChannelAccount, ChannelIdentity, Customer, Message, Order, PrivacyRequest

pytestmark = pytest.mark.django_db

DATA_REQUEST = "webhooks/shopify/customers-data-request.docs-example.json"
REDACT = "webhooks/shopify/customers-redact.docs-example.json"
ORDERS_CREATE = "webhooks/shopify/orders-create.docs-example.json"


@pytest.fixture
def account():
    return shopify_account()


@pytest.fixture
def johns_order(client, account):
    """The documented order, bought by the customer the privacy samples name (id 191167,
    john@example.com), with order id 299938 from `orders_to_redact`; John also wrote to us."""
    payload = json.loads(corpus_bytes(ORDERS_CREATE))
    payload["id"] = 299938
    payload["customer"]["id"] = 191167
    process_stored_event(post_shopify(client, account, json.dumps(payload).encode(), "orders/create", "w-order"))
    order = Order.objects.get()
    ticket = actions.create_ticket(store=account.store, channel="email", customer=order.customer, subject="Where is #9999?")
    actions.add_message(ticket=ticket, direction=Message.Direction.INBOUND, author_customer=order.customer,
                        body_text="Hello, I am John Smith, 123 Elm St.")
    return order


def test_data_request_records_the_request_with_the_customer_export(client, account, johns_order):
    event, _ = process_stored_event(post_shopify(client, account, corpus_bytes(DATA_REQUEST), "customers/data_request", "w-dr"))
    assert event.state == InboundEvent.State.PROCESSED, event.error
    request = PrivacyRequest.objects.get()
    assert (request.kind, request.external_request_id, request.customer_id) == (
        "data_request", "9999", johns_order.customer_id)
    assert request.completed_at is not None
    export = request.export
    assert export["customer"]["email"] == "john@example.com"
    assert [order["external_id"] for order in export["orders"]] == ["299938"]
    assert export["orders"][0]["shipping_address"]["city"] == "Shippington"
    assert export["messages"][0]["text"] == "Hello, I am John Smith, 123 Elm St."


def test_data_request_for_an_unknown_customer_is_recorded_with_an_empty_export(client, account):
    event, _ = process_stored_event(post_shopify(client, account, corpus_bytes(DATA_REQUEST), "customers/data_request", "w-dr"))
    assert event.state == InboundEvent.State.PROCESSED
    request = PrivacyRequest.objects.get()
    assert request.customer is None
    assert request.export == {"customer": None, "identities": [], "orders": [], "messages": []}


def test_customer_redact_erases_personal_data_and_keeps_the_totals(client, account, johns_order):
    bystander = CustomerFactory(name="Ana", email="ana@example.org")
    event, _ = process_stored_event(post_shopify(client, account, corpus_bytes(REDACT), "customers/redact", "w-red"))
    assert event.state == InboundEvent.State.PROCESSED, event.error
    order = Order.objects.get()
    assert (order.total, order.subtotal, order.currency, order.number) == (Decimal("404.95"), Decimal("404.95"), "USD", "#9999")
    assert order.lines.count() == 5
    assert (order.shipping_address, order.billing_address, order.customer_id) == ({}, {}, None)
    john = Customer.objects.get(pk=johns_order.customer_id)
    assert (john.name, john.email, john.phone) == ("[redacted]", "", "")
    assert not ChannelIdentity.objects.filter(customer=john).exists()
    assert Message.objects.get().body_text == "[redacted]"
    # The raw order delivery carried the address: erased too.
    order_event = InboundEvent.objects.get(event_id="w-order")
    assert b"Shippington" not in order_event.body_bytes
    assert Customer.objects.get(pk=bystander.pk).name == "Ana"
    assert PrivacyRequest.objects.get().kind == "customer_redact"


def test_shop_redact_erases_the_shops_data_and_disconnects_it(client, account, johns_order):
    body = json.dumps({"shop_id": 954889, "shop_domain": "johns-apparel.myshopify.com"}).encode()
    event, _ = process_stored_event(post_shopify(client, account, body, "shop/redact", "w-shop"))
    assert event.state == InboundEvent.State.PROCESSED, event.error
    assert Order.objects.count() == 0
    assert not ChannelIdentity.objects.filter(account=account).exists()
    account.refresh_from_db()
    assert account.status == ChannelAccount.Status.PAUSED
    assert account.get_secrets() == {}
    assert b"Shippington" not in InboundEvent.objects.get(event_id="w-order").body_bytes
    assert PrivacyRequest.objects.get().kind == "shop_redact"


def test_privacy_webhooks_need_the_signature_too(client, account):
    response = post_shopify(client, account, corpus_bytes(REDACT), "customers/redact", signature="bad")
    assert response.status_code == 401
    assert InboundEvent.objects.count() == 0 and PrivacyRequest.objects.count() == 0
