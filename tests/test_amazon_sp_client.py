"""The SP-API client against a local HTTP server on 127.0.0.1 that answers as LWA and the Orders
API v0 do (documented payloads from the shared corpus): token exchange and caching, regional
endpoints, getOrder, getOrderItems with NextToken, 429 with and without Retry-After, an expired
token refreshed once, revoked credentials, 5xx."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from channels_ingest.adapters.amazon_sp import regions
from channels_ingest.adapters.amazon_sp.client import CredentialsExpired, SpApiClient
from channels_ingest.adapters.amazon_sp.sync import fetch_order
from channels_ingest.base import ChannelError
from channels_ingest.shop_http import ProviderError
from tests.amazon_sp_helpers import (
    ITEMS_PATH,
    ORDER_ID,
    ORDER_PATH,
    TOKEN_PATH,
    TokenEndpoint,
    amazon_account,
    corpus_json,
    order_items_pages,
)
from tests.shop_helpers import Answer, ShopServer
from tickets.models import ChannelAccount, Order

pytestmark = pytest.mark.django_db

ORDER = corpus_json("orders-v0-getOrder-example.json")
EXPIRED = {"errors": [{"code": "Unauthorized", "message": "The access token you provided has expired.", "details": ""}]}
DENIED = {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.", "details": ""}]}
THROTTLED = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}


@pytest.fixture
def server():
    with ShopServer() as running:
        yield running


@pytest.fixture
def token(server):
    endpoint = TokenEndpoint()
    server.route("POST", TOKEN_PATH, endpoint)
    return endpoint


@pytest.fixture
def account(server):
    return amazon_account(server)


def header(recorded, name: str) -> str:
    return {key.lower(): value for key, value in recorded.headers.items()}[name]


class Sleeps(list):
    """Records the waits instead of spending them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_token_exchange_sends_the_refresh_token_grant_and_the_token_is_cached(server, token, account):
    server.route("GET", ORDER_PATH, [Answer(200, ORDER)])
    client = SpApiClient(account)
    assert client.get_order(ORDER_ID)["AmazonOrderId"] == ORDER_ID
    assert client.get_order(ORDER_ID)["OrderStatus"] == "Pending"
    assert token.forms == [{
        "grant_type": "refresh_token", "refresh_token": "Atzr|refresh-token",
        "client_id": "amzn1.application-oa2-client.test", "client_secret": "lwa-secret",
    }]
    token_request = next(r for r in server.requests if r.path == TOKEN_PATH)
    assert header(token_request, "content-type").startswith("application/x-www-form-urlencoded")
    calls = [r for r in server.requests if r.path == ORDER_PATH]
    assert [header(r, "x-amz-access-token") for r in calls] == ["Atza|token-1", "Atza|token-1"]


def test_the_token_is_renewed_shortly_before_it_expires(server, token, account):
    server.route("GET", ORDER_PATH, [Answer(200, ORDER)])
    now = [1000.0]
    client = SpApiClient(account, clock=lambda: now[0])
    client.get_order(ORDER_ID)
    now[0] += 3600 - 61  # still valid for a minute and a second
    client.get_order(ORDER_ID)
    assert len(token.forms) == 1
    now[0] += 2  # within the last minute: renewed
    client.get_order(ORDER_ID)
    assert len(token.forms) == 2


@pytest.mark.parametrize(("marketplace_id", "endpoint"), [
    ("A1RKKUPIHCS9HS", "https://sellingpartnerapi-eu.amazon.com"),
    ("ATVPDKIKX0DER", "https://sellingpartnerapi-na.amazon.com"),
    ("A1VC38T7YXB528", "https://sellingpartnerapi-fe.amazon.com"),
])
def test_regional_endpoint_follows_the_marketplace(marketplace_id, endpoint):
    account = amazon_account(marketplace_ids=[marketplace_id])
    assert regions.endpoint_for(account) == endpoint
    assert SpApiClient(account).base == endpoint


def test_region_setting_and_unknown_marketplace():
    assert regions.endpoint_for(amazon_account(region="fe", marketplace_ids=[])) == regions.ENDPOINTS["fe"]
    with pytest.raises(ChannelError, match="unknown Amazon marketplace id"):
        regions.endpoint_for(amazon_account(marketplace_ids=["XX-NOT-A-MARKETPLACE"]))
    assert regions.site_for("A1RKKUPIHCS9HS") == "amazon.es"


def test_get_order_items_follows_next_token(server, token, account):
    server.route("GET", ITEMS_PATH, order_items_pages())
    items = SpApiClient(account).get_order_items(ORDER_ID)
    assert [item["OrderItemId"] for item in items] == ["68828574383266", "79039765272157", "11111111111111"]
    pages = [r for r in server.requests if r.path == ITEMS_PATH]
    assert pages[0].query == {}
    assert pages[1].query == {"NextToken": ["2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"]}


def test_fetch_order_stores_order_and_paginated_items(server, token, account):
    server.route("GET", ORDER_PATH, [Answer(200, ORDER)])
    server.route("GET", ITEMS_PATH, order_items_pages())
    outcome = fetch_order(account, ORDER_ID)
    order = Order.objects.get(pk=outcome.order_id)
    assert (order.external_id, order.number, order.marketplace, order.marketplace_site) == (
        ORDER_ID, ORDER_ID, "amazon", "amazon.com")
    lines = list(order.lines.values_list("external_id", "quantity", "unit_price", "total"))
    assert lines == [
        ("68828574383266", 1, Decimal("25.99"), Decimal("25.99")),
        ("79039765272157", 2, Decimal("8.98"), Decimal("17.95")),
        ("11111111111111", 2, Decimal("15.00"), Decimal("30.00")),
    ]
    assert order.subtotal == Decimal("73.94")
    assert order.shipping_total == Decimal("1.26")
    # The example's items carry a buyer cancellation request.
    assert order.cancellation_requested_at is not None
    assert order.cancellation_reason == "Found cheaper somewhere else."
    assert order.customer.email == "user@example.com"


def test_429_honours_retry_after(server, token, account):
    server.route("GET", ORDER_PATH, [Answer(429, THROTTLED, {"Retry-After": "1.5"}), Answer(200, ORDER)])
    sleeps = Sleeps()
    assert SpApiClient(account, sleep=sleeps).get_order(ORDER_ID)["AmazonOrderId"] == ORDER_ID
    assert sleeps == [1.5]


def test_429_without_retry_after_backs_off_exponentially_with_jitter(server, token, account):
    server.route("GET", ORDER_PATH, [Answer(429, THROTTLED)] * 3 + [Answer(200, ORDER)])
    sleeps = Sleeps()
    SpApiClient(account, sleep=sleeps, rng=random.Random(7)).get_order(ORDER_ID)
    assert len(sleeps) == 3
    for attempt, seconds in enumerate(sleeps, start=1):
        ceiling = 2 ** (attempt - 1)
        assert ceiling / 2 <= seconds <= ceiling
    assert len({round(s / 2 ** i, 6) for i, s in enumerate(sleeps)}) > 1  # jittered, not a fixed ladder


def test_429_is_bounded_and_reported_as_not_permanent(server, token, account):
    server.route("GET", ORDER_PATH, [Answer(429, THROTTLED)])
    sleeps = Sleeps()
    with pytest.raises(ProviderError) as raised:
        SpApiClient(account, sleep=sleeps).get_order(ORDER_ID)
    assert raised.value.status == 429 and raised.value.permanent is False
    assert len(sleeps) == 5 and max(sleeps) <= 30
    assert "QuotaExceeded" in raised.value.detail


def test_expired_access_token_is_refreshed_once(server, token, account):
    def order(recorded):
        if header(recorded, "x-amz-access-token") == "Atza|token-1":
            return Answer(403, EXPIRED)
        return Answer(200, ORDER)

    server.route("GET", ORDER_PATH, order)
    assert SpApiClient(account).get_order(ORDER_ID)["AmazonOrderId"] == ORDER_ID
    assert len(token.forms) == 2
    account.refresh_from_db()
    assert account.status == ChannelAccount.Status.ACTIVE


def test_401_then_refresh_then_success(server, token, account):
    server.route("GET", ORDER_PATH, [Answer(401, EXPIRED), Answer(200, ORDER)])
    assert SpApiClient(account).get_order(ORDER_ID)["OrderStatus"] == "Pending"
    assert [header(r, "x-amz-access-token") for r in server.requests if r.path == ORDER_PATH] == [
        "Atza|token-1", "Atza|token-2"]


def test_revoked_access_marks_the_credentials_expired(server, token, account):
    server.route("GET", ORDER_PATH, [Answer(403, DENIED)])
    with pytest.raises(CredentialsExpired) as raised:
        SpApiClient(account).get_order(ORDER_ID)
    assert raised.value.permanent and raised.value.status == 403
    assert len([r for r in server.requests if r.path == ORDER_PATH]) == 2  # refreshed once, not more
    account.refresh_from_db()
    assert account.status == ChannelAccount.Status.ERROR
    assert "Amazon credentials expired or revoked" in account.last_error
    assert "Access to requested resource is denied" in account.last_error
    assert "lwa-secret" not in account.last_error and "Atzr|" not in account.last_error


def test_revoked_refresh_token_marks_the_credentials_expired(server, account):
    server.route("POST", TOKEN_PATH, [Answer(400, {"error": "invalid_grant",
                                                   "error_description": "The request has an invalid grant parameter"})])
    with pytest.raises(CredentialsExpired, match="invalid_grant"):
        SpApiClient(account).get_order(ORDER_ID)
    account.refresh_from_db()
    assert account.status == ChannelAccount.Status.ERROR
    assert not [r for r in server.requests if r.path == ORDER_PATH]


def test_5xx_is_retried(server, token, account):
    server.route("GET", ORDER_PATH, [Answer(503, b"Service Unavailable"), Answer(500, {"errors": []}),
                                     Answer(200, ORDER)])
    sleeps = Sleeps()
    assert SpApiClient(account, sleep=sleeps).get_order(ORDER_ID)["AmazonOrderId"] == ORDER_ID
    assert len(sleeps) == 2


def test_5xx_that_persists_is_transient(server, token, account):
    server.route("GET", ORDER_PATH, [Answer(503, b"Service Unavailable")])
    sleeps = Sleeps()
    with pytest.raises(ProviderError) as raised:
        SpApiClient(account, sleep=sleeps).get_order(ORDER_ID)
    assert raised.value.status == 503 and raised.value.permanent is False
    assert len([r for r in server.requests if r.path == ORDER_PATH]) == 4
    account.refresh_from_db()
    assert account.status == ChannelAccount.Status.ACTIVE


def test_unknown_order_is_a_permanent_error(server, token, account):
    server.route("GET", ORDER_PATH, [Answer(404, {"errors": [{"code": "InvalidInput", "message": "Invalid order id"}]})])
    with pytest.raises(ProviderError) as raised:
        SpApiClient(account).get_order(ORDER_ID)
    assert raised.value.permanent and raised.value.status == 404
