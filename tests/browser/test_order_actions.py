"""An agent refunds a Shopify order from the ticket, in a real browser: the order panel, the
confirmation step, and the shop's answer (a local HTTP server on loopback speaking Shopify's
Admin API)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.factories import (
    PASSWORD,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    TicketFactory,
    UserFactory,
)
from tests.shop_helpers import Answer, ShopServer, shopify_account
from tests.webhook_helpers import corpus_bytes
from tickets.models import Refund, Ticket, TicketEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFUND = json.loads(corpus_bytes("api/shopify-admin-rest/shopify-python-api-refund.json"))


@pytest.fixture
def shop():
    with ShopServer() as server:
        yield server


@pytest.fixture
def ticket(transactional_db, shop) -> Ticket:
    UserFactory(username="alice", role="agent")
    account = shopify_account(api_base_url=shop.url)
    customer = CustomerFactory(name="Bob Norman", email="bob.norman@hostmail.com")
    order = OrderFactory(store=account.store, channel_account=account, customer=customer, number="#1001",
                         external_id="450789469", currency="USD", total=Decimal("409.94"), payment_status="paid",
                         shipping_address={"name": "Bob Norman", "address1": "Chestnut Street 92", "city": "Louisville",
                                           "zip": "40202", "country_code": "US"})
    OrderLineFactory(order=order, external_id="466157049", title="IPod Nano - 8gb - green", quantity=1,
                     unit_price=Decimal("199.00"), total=Decimal("199.00"))
    ticket = TicketFactory(store=account.store, customer=customer, subject="Broken iPod")
    ticket.orders.add(order)
    return ticket


def test_agent_refunds_one_line_after_confirming(page, ticket, shop, screenshot):
    path = "/admin/api/2025-01/orders/450789469"
    shop.route("POST", f"{path}/refunds/calculate.json", [Answer(200, {"refund": {"transactions": [
        {"parent_id": 389404469, "amount": "199.00", "kind": "suggested_refund", "gateway": "bogus"}]}})])
    created = json.loads(json.dumps(REFUND))
    created["refund"]["transactions"] = [{"id": 1, "kind": "refund", "status": "success", "amount": "199.00"}]
    shop.route("POST", f"{path}/refunds.json", [Answer(201, created)])

    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in|Log in")).click()
    page.goto(f"/tickets/{ticket.pk}/")
    panel = page.locator("section.orders")
    expect(panel).to_contain_text("#1001")
    expect(panel).to_contain_text("Louisville")
    panel.get_by_text("Order actions").click()
    panel.locator("input[name^=line_]").fill("1")
    panel.locator("input[name=reason]").fill("Arrived broken")
    panel.get_by_role("button", name="Refund…").click()

    confirm = page.locator(".order-confirm")
    expect(confirm).to_contain_text("Refund 1 × IPod Nano - 8gb - green on order #1001 through the shop?")
    assert shop.requests == []  # nothing asked of the shop before the agent confirms
    screenshot("order-refund-confirm")
    confirm.get_by_role("button", name="Yes: Refund").click()

    expect(page.locator(".messages, [role=status], .alert").first).to_contain_text("Shopify refunded 199.00 USD")
    expect(panel.locator(".refunds")).to_contain_text("199.00 USD")
    screenshot("order-refunded")
    assert Refund.objects.get().amount == Decimal("199.00")
    assert TicketEvent.objects.get(kind="order_action").data["ok"] is True
