"""eBay orders through the Fulfillment API, against a local server on 127.0.0.1: mapping onto the
helpdesk's orders, incremental sync, OAuth user token refresh and expiry, 429 and 5xx handling."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from channels_ingest import shop_http
from channels_ingest.adapters.ebay import oauth, orders
from tests.ebay_helpers import TOKEN_PATH, ebay_account, token_answer
from tests.shop_helpers import Answer, ShopServer
from tickets.models import ChannelAccount, Order

pytestmark = pytest.mark.django_db

FIXTURE = Path(orders.__file__).parent / "fixtures" / "fulfillment-order.json"
ORDER = json.loads(FIXTURE.read_text())
ORDER_PATH = "/sell/fulfillment/v1/order/12-03456-78901"
LIST_PATH = "/sell/fulfillment/v1/order"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def server():
    with ShopServer() as running:
        running.route("POST", TOKEN_PATH, token_answer)
        yield running


@pytest.fixture
def account(server):
    return ebay_account(server.url)


def test_order_is_mapped_with_decimal_amounts_and_the_listing_marketplace():
    normalized = orders.normalize_order(ORDER)
    assert (normalized.marketplace, normalized.external_id, normalized.number) == (
        "ebay.de", "12-03456-78901", "110012345678-2000012345601")
    assert (normalized.subtotal, normalized.shipping_total, normalized.total, normalized.currency) == (
        Decimal("59.90"), Decimal("4.99"), Decimal("64.89"), "EUR")
    assert (normalized.status, normalized.payment_status) == ("shipped", "paid")
    line = normalized.lines[0]
    assert (line.sku, line.quantity, line.unit_price, line.total) == ("RAIN-JACKET-M", 2, Decimal("29.95"), Decimal("64.89"))
    assert normalized.customer.kind == "ebay_user" and normalized.customer.value == "buyer_anna"
    assert normalized.shipping_address["city"] == "München"


def test_get_order_backfills_it_with_the_user_token(server, account):
    server.route("GET", ORDER_PATH, [Answer(200, ORDER)])
    orders.backfill_order(account, "12-03456-78901")
    order = Order.objects.get()
    assert (order.marketplace, order.number, order.total, order.status) == (
        "ebay.de", "110012345678-2000012345601", Decimal("64.89"), Order.Status.SHIPPED)
    assert order.customer.identities.filter(kind="ebay_user", value="buyer_anna").exists()
    assert server.requests[0].headers["Authorization"] == "Bearer v^1.1#user-token"


def test_refund_and_cancellation_statuses():
    refunded = copy.deepcopy(ORDER)
    refunded["orderPaymentStatus"] = "FULLY_REFUNDED"
    refunded["paymentSummary"]["refunds"] = [
        {"refundId": "5000123", "refundDate": "2026-11-22T08:00:00.000Z", "refundStatus": "REFUNDED",
         "amount": {"value": "64.89", "currency": "EUR"}}]
    normalized = orders.normalize_order(refunded)
    assert normalized.status == "refunded"
    assert (normalized.refunds[0].external_id, normalized.refunds[0].amount) == ("5000123", Decimal("64.89"))
    cancelled = copy.deepcopy(ORDER)
    cancelled["cancelStatus"]["cancelState"] = "CANCELED"
    assert orders.normalize_order(cancelled).status == "cancelled"


def test_expired_token_is_refreshed_once_with_basic_auth(server, account):
    server.route("GET", ORDER_PATH, lambda r: Answer(200, ORDER) if r.headers["Authorization"].endswith("refreshed-user-token")
                 else Answer(401, {"errors": [{"errorId": 1001, "message": "Invalid access token"}]}))
    orders.backfill_order(account, "12-03456-78901")
    refresh = [r for r in server.requests if r.path == TOKEN_PATH]
    assert len(refresh) == 1
    assert refresh[0].headers["Authorization"] == "Basic " + base64.b64encode(b"Helpdesk-App-PRD-0123:PRD-secret").decode()
    assert "grant_type=refresh_token" in refresh[0].body.decode()
    account.refresh_from_db()
    assert account.get_secrets()["access_token"] == "v^1.1#refreshed-user-token"
    assert Order.objects.count() == 1


def test_token_refused_after_refresh_marks_the_credentials_expired(server, account):
    server.route("GET", ORDER_PATH, [Answer(401, {"errors": [{"errorId": 1001, "message": "Invalid access token"}]})])
    with pytest.raises(shop_http.CredentialsRejected):
        orders.backfill_order(account, "12-03456-78901")
    account.refresh_from_db()
    assert account.status == ChannelAccount.Status.ERROR
    assert "credentials expired" in account.last_error
    assert len([r for r in server.requests if r.path == ORDER_PATH]) == 2


def test_revoked_refresh_token_marks_the_credentials_expired(server, account):
    server.route("POST", TOKEN_PATH, [Answer(400, {"error": "invalid_grant",
                                                   "error_description": "the provided authorization refresh token is invalid or was issued to another client"})])
    secrets = account.get_secrets()
    secrets["access_token_expires_at"] = "2020-01-01T00:00:00+00:00"
    account.set_secrets(secrets)
    account.save()
    with pytest.raises(shop_http.CredentialsRejected):
        oauth.user_token(account)
    account.refresh_from_db()
    assert account.status == ChannelAccount.Status.ERROR
    assert "invalid_grant" in account.last_error


def test_429_waits_for_retry_after_and_5xx_is_retried(server, account):
    slept = []
    server.route("GET", ORDER_PATH, [Answer(429, {"errors": []}, {"Retry-After": "3"}), Answer(503, b"busy"),
                                     Answer(200, ORDER)])
    data = orders.FulfillmentClient(account, sleep=slept.append).get_order("12-03456-78901")
    assert data["orderId"] == "12-03456-78901"
    assert slept[0] == 3.0 and len(slept) == 2


def test_persistent_5xx_is_not_permanent(server, account):
    server.route("GET", ORDER_PATH, [Answer(500, {"errors": [{"errorId": 2003, "message": "Internal error"}]})])
    with pytest.raises(shop_http.ProviderError) as raised:
        orders.FulfillmentClient(account, sleep=lambda s: None).get_order("12-03456-78901")
    assert raised.value.permanent is False


def test_sync_reads_every_page_since_the_cursor_and_moves_it(server, account):
    second = copy.deepcopy(ORDER)
    second["orderId"] = "12-03456-78902"
    pages = {
        "0": {"orders": [ORDER], "next": f"{server.url}{LIST_PATH}?limit=1&offset=1", "total": 2},
        "1": {"orders": [second], "total": 2},
    }
    server.route("GET", LIST_PATH, lambda r: Answer(200, pages[r.query["offset"][0]]))
    report = orders.sync_orders(account, now=NOW)
    assert report == {"seen": 2, "created": 2}
    first_query = server.requests[0].query
    assert first_query["filter"] == ["lastmodifieddate:[2026-11-15T10:00:00.000Z..]"]
    account.refresh_from_db()
    assert account.settings[orders.CURSOR_SETTING] == NOW.isoformat()
    orders.sync_orders(account, now=NOW + timedelta(minutes=15))
    assert server.requests[-2].query["filter"] == ["lastmodifieddate:[2026-11-22T09:00:00.000Z..]"]
    assert Order.objects.count() == 2
