"""The Shopify Admin API client, back-fill, reconciliation and app install, against a local HTTP
server on 127.0.0.1 that answers with Shopify's documented payloads (shared corpus)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from channels_ingest import shop_http, shop_sync
from channels_ingest.adapters.shopify import oauth
from channels_ingest.adapters.shopify.client import ShopifyClient
from tests.shop_helpers import Answer, ShopServer, shopify_account
from tests.webhook_helpers import corpus_bytes
from tickets.models import ChannelAccount, Order

pytestmark = pytest.mark.django_db

ORDER = json.loads(corpus_bytes("api/shopify-admin-rest/shopify-python-api-order.json"))
WEBHOOK_ORDER = json.loads(corpus_bytes("webhooks/shopify/orders-create.docs-example.json"))
ORDER_PATH = "/admin/api/2025-01/orders/450789469.json"
LIST_PATH = "/admin/api/2025-01/orders.json"


@pytest.fixture
def server():
    with ShopServer() as running:
        yield running


@pytest.fixture
def account(server):
    return shopify_account(api_base_url=server.url)


def test_get_order_sends_the_token_on_the_versioned_path(server, account):
    server.route("GET", ORDER_PATH, [Answer(200, ORDER)])
    order = ShopifyClient(account).get_order("450789469")
    assert order["name"] == "#1001"
    assert order["total_price"] == "409.94"
    assert server.requests[0].headers["X-Shopify-Access-Token"] == "shpat_test"


def test_backfill_stores_the_documented_order(server, account):
    server.route("GET", ORDER_PATH, [Answer(200, ORDER)])
    shop_sync.backfill_order(account, "450789469")
    order = Order.objects.get()
    assert (order.external_id, order.number, order.total, order.tax_total) == (
        "450789469", "#1001", Decimal("409.94"), Decimal("11.94"))
    assert (order.status, order.payment_status) == (Order.Status.PENDING, "authorized")
    assert order.customer.email == "bob.norman@hostmail.com"
    assert order.lines.count() == len(ORDER["order"]["line_items"])


def test_401_is_a_permanent_credentials_error(server, account):
    server.route("GET", ORDER_PATH, [Answer(401, {"errors": "[API] Invalid API key or access token"})])
    with pytest.raises(shop_http.CredentialsRejected) as raised:
        ShopifyClient(account).get_order("450789469")
    assert raised.value.permanent and raised.value.status == 401
    assert raised.value.detail == "[API] Invalid API key or access token"


def test_429_waits_for_retry_after_then_succeeds(server, account):
    server.route("GET", ORDER_PATH, [Answer(429, {"errors": "Exceeded 2 calls per second"}, {"Retry-After": "1.0"}),
                                     Answer(200, ORDER)])
    started = time.monotonic()
    assert ShopifyClient(account).get_order("450789469")["id"] == 450789469
    assert time.monotonic() - started >= 1.0
    assert len(server.requests) == 2


def test_5xx_is_retried_and_then_reported_as_not_permanent(server, account):
    server.route("GET", ORDER_PATH, [Answer(503, b"Service Unavailable")])
    with pytest.raises(shop_http.ProviderError) as raised:
        ShopifyClient(account).get_order("450789469")
    assert raised.value.permanent is False and raised.value.status == 503
    assert len(server.requests) == 1 + shop_http.SERVER_ERROR_RETRIES


def test_5xx_then_success(server, account):
    server.route("GET", ORDER_PATH, [Answer(502, b""), Answer(200, ORDER)])
    assert ShopifyClient(account).get_order("450789469")["name"] == "#1001"


def test_listing_follows_the_link_header_pages(server, account):
    second = {"orders": [WEBHOOK_ORDER]}

    def pages(request):
        if request.query.get("page_info") == ["p2"]:
            return Answer(200, second)
        return Answer(200, {"orders": [ORDER["order"]]},
                      {"Link": f'<{{base}}{LIST_PATH}?limit=250&page_info=p2>; rel="next"'})

    server.route("GET", LIST_PATH, pages)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [order["id"] for order in ShopifyClient(account).orders_updated_since(since)]
    assert ids == [450789469, 820982911946154500]
    first_query = server.requests[0].query
    assert first_query["updated_at_min"] == ["2026-01-01T00:00:00+00:00"]
    assert first_query["status"] == ["any"]


def test_reconciliation_finds_an_order_whose_webhook_never_came(server, account):
    server.route("GET", LIST_PATH, [Answer(200, {"orders": [ORDER["order"], WEBHOOK_ORDER]})])
    Order.objects.create(store=account.store, channel_account=account, marketplace="shopify",
                         external_id="820982911946154500", number="#9999")  # its webhook came
    report = shop_sync.reconcile_account(account)
    assert (report.seen, report.created) == (2, 1)
    assert Order.objects.filter(external_id="450789469", number="#1001").exists()
    account.refresh_from_db()
    assert account.last_sync_at is not None and account.last_error == ""
    # The next pass starts from the last one, with an hour's overlap.
    shop_sync.reconcile_account(account)
    since = datetime.fromisoformat(server.requests[-1].query["updated_at_min"][0])
    assert 3500 <= (account.last_sync_at - since).total_seconds() <= 3700


def test_reconciliation_with_revoked_token_puts_the_account_in_error(server, account):
    server.route("GET", LIST_PATH, [Answer(401, {"errors": "[API] Invalid API key or access token"})])
    report = shop_sync.reconcile_account(account)
    assert "401" in report.error
    account.refresh_from_db()
    assert account.status == ChannelAccount.Status.ERROR
    assert "Invalid API key" in account.last_error


def test_reconciliation_during_an_outage_raises_for_the_task_to_retry(server, account):
    server.route("GET", LIST_PATH, [Answer(500, {"errors": "Internal"})])
    with pytest.raises(shop_http.ProviderError):
        shop_sync.reconcile_account(account)
    account.refresh_from_db()
    assert account.status == ChannelAccount.Status.ACTIVE and "500" in account.last_error


# --- App install (OAuth) ----------------------------------------------------------------------


def _callback_params(account, state: str, **overrides) -> dict:
    params = {"code": "0907a61c0c8d55e99db179b68161bc00", "shop": "johns-apparel.myshopify.com",
              "state": state, "timestamp": str(int(time.time()))}
    params.update(overrides)
    params["hmac"] = oauth.query_hmac(params, "shpss_test_client_secret")
    return params


@pytest.fixture
def admin_client(client, charlie):
    charlie.is_staff = True
    charlie.save()
    client.force_login(charlie)
    return client


def test_install_redirects_to_the_authorize_url_with_scopes_and_state(admin_client, account):
    response = admin_client.get(f"/shopify/install/{account.public_id}/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == "/admin/oauth/authorize"
    query = parse_qs(target.query)
    assert query["client_id"] == ["app-client-id"]
    assert query["scope"] == ["read_orders,write_orders,read_customers,read_fulfillments"]
    assert query["redirect_uri"] == ["http://testserver/shopify/callback/"]
    assert query["state"] == [admin_client.session["shopify_oauth"]["state"]]


def test_callback_exchanges_the_code_and_stores_the_token_encrypted(admin_client, server, account):
    server.route("POST", "/admin/oauth/access_token",
                 [Answer(200, {"access_token": "shpat_new_token", "scope": "read_orders,write_orders"})])
    server.route("POST", "/admin/api/2025-01/webhooks.json",
                 [Answer(201, {"webhook": {"id": 1}}),
                  Answer(422, {"errors": {"address": ["for this topic has already been taken"]}}),
                  Answer(201, {"webhook": {"id": 3}})])
    admin_client.get(f"/shopify/install/{account.public_id}/")
    state = admin_client.session["shopify_oauth"]["state"]
    response = admin_client.get("/shopify/callback/", _callback_params(account, state))
    assert response.status_code == 302
    assert json.loads(server.requests[0].body) == {
        "client_id": "app-client-id", "client_secret": "shpss_test_client_secret",
        "code": "0907a61c0c8d55e99db179b68161bc00"}
    account.refresh_from_db()
    assert account.get_secrets()["access_token"] == "shpat_new_token"
    assert b"shpat_new_token" not in account.secrets_encrypted.encode()
    assert account.settings["scopes"] == "read_orders,write_orders"
    # Then the webhooks are subscribed with the new token (one was subscribed already: fine).
    subscriptions = [request for request in server.requests if request.path.endswith("/webhooks.json")]
    assert [json.loads(request.body)["webhook"]["topic"] for request in subscriptions] == [
        "orders/create", "orders/updated", "refunds/create", "fulfillments/create", "customers/create"]
    assert {request.headers["X-Shopify-Access-Token"] for request in subscriptions} == {"shpat_new_token"}
    assert json.loads(subscriptions[0].body)["webhook"]["address"] == (
        f"http://testserver/hooks/shopify/{account.public_id}/")


@pytest.mark.parametrize("tamper", ["hmac", "state", "shop", "old"])
def test_callback_with_bad_hmac_state_shop_or_age_is_refused_without_exchange(admin_client, server, account, tamper):
    admin_client.get(f"/shopify/install/{account.public_id}/")
    state = admin_client.session["shopify_oauth"]["state"]
    if tamper == "state":
        state = "forged"
    overrides = {}
    if tamper == "shop":
        overrides["shop"] = "evil-shop.myshopify.com"
    if tamper == "old":
        overrides["timestamp"] = str(int(time.time()) - 3 * 86400)
    params = _callback_params(account, state, **overrides)
    if tamper == "hmac":
        params["hmac"] = "0" * 64
    response = admin_client.get("/shopify/callback/", params)
    assert response.status_code == 400
    assert server.requests == []
    account.refresh_from_db()
    assert account.get_secrets()["access_token"] == "shpat_test"
