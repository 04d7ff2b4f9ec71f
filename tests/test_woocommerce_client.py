"""The WooCommerce REST API client and reconciliation, against a local HTTP server on 127.0.0.1
answering with the documented resources (shared corpus)."""

from __future__ import annotations

import base64
import json

import pytest

from channels_ingest import shop_http, shop_sync
from channels_ingest.adapters.woocommerce.client import WooCommerceClient
from channels_ingest.base import ChannelError
from tests.shop_helpers import Answer, ShopServer, woo_account
from tests.webhook_helpers import corpus_bytes
from tickets.models import ChannelAccount, Order

pytestmark = pytest.mark.django_db

ORDER = json.loads(corpus_bytes("webhooks/woocommerce/order-created-body.json"))
UPDATED = json.loads(corpus_bytes("webhooks/woocommerce/order-updated-body.json"))
ORDERS = "/wp-json/wc/v3/orders"


@pytest.fixture
def server():
    with ShopServer() as running:
        yield running


@pytest.fixture
def account(server):
    return woo_account(site_url=server.url)


def test_listing_reads_every_page_with_basic_auth(server, account):
    other = dict(ORDER, id=728, number="728")

    def pages(request):
        page = request.query["page"][0]
        return Answer(200, [ORDER] if page == "1" else [other], {"X-WP-TotalPages": "2", "X-WP-Total": "2"})

    server.route("GET", ORDERS, pages)
    from datetime import UTC, datetime

    ids = [order["id"] for order in WooCommerceClient(account).orders_modified_since(datetime(2026, 1, 1, tzinfo=UTC))]
    assert ids == [727, 728]
    first = server.requests[0]
    assert first.headers["Authorization"] == "Basic " + base64.b64encode(b"ck_test:cs_test").decode()
    assert first.query["modified_after"] == ["2026-01-01T00:00:00"]
    assert first.query["dates_are_gmt"] == ["true"]


def test_reconciliation_finds_an_order_whose_webhook_never_came(server, account):
    server.route("GET", ORDERS, [Answer(200, [UPDATED], {"X-WP-TotalPages": "1"})])
    report = shop_sync.reconcile_account(account)
    assert (report.seen, report.created) == (1, 1)
    order = Order.objects.get()
    assert (order.external_id, order.status) == ("727", Order.Status.SHIPPED)
    account.refresh_from_db()
    assert account.last_sync_at is not None


def test_401_puts_the_account_in_error(server, account):
    server.route("GET", ORDERS, [Answer(401, {"code": "woocommerce_rest_cannot_view",
                                              "message": "Sorry, you cannot list resources.", "data": {"status": 401}})])
    report = shop_sync.reconcile_account(account)
    assert "Sorry, you cannot list resources." in report.error
    account.refresh_from_db()
    assert account.status == ChannelAccount.Status.ERROR


def test_429_with_retry_after_then_success(server, account):
    server.route("GET", ORDERS, [Answer(429, {"message": "slow down"}, {"Retry-After": "0"}),
                                 Answer(200, [ORDER], {"X-WP-TotalPages": "1"})])
    assert shop_sync.reconcile_account(account).created == 1


def test_5xx_is_not_permanent(server, account):
    server.route("GET", "/wp-json/wc/v3/orders/727", [Answer(500, {"message": "Internal error"})])
    with pytest.raises(shop_http.ProviderError) as raised:
        WooCommerceClient(account).get_order("727")
    assert raised.value.permanent is False


def test_plain_http_is_refused_except_on_loopback():
    account = woo_account(site_url="http://shop.example.com")
    with pytest.raises(ChannelError, match="https"):
        WooCommerceClient(account)
