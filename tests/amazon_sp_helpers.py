"""Shared by the Amazon SP-API tests: a seller account pointed at a local SP-API/LWA server on
loopback (tests.shop_helpers.ShopServer), and the documented corpus payloads."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from channels_ingest.adapters.amazon_sp.client import forget_tokens
from tests.factories import ChannelAccountFactory, StoreFactory
from tests.shop_helpers import Answer, Recorded
from tests.webhook_helpers import corpus_bytes
from tickets.models import Channel, ChannelAccount

TOKEN_PATH = "/auth/o2/token"
ORDER_ID = "902-3159896-1390916"
ORDER_PATH = f"/orders/v0/orders/{ORDER_ID}"
ITEMS_PATH = f"/orders/v0/orders/{ORDER_ID}/orderItems"


def corpus_json(name: str) -> dict:
    return json.loads(corpus_bytes(f"api/amazon-sp-api/{name}"))


def amazon_account(server=None, *, store=None, **settings) -> ChannelAccount:
    forget_tokens()
    values = {"marketplace_ids": ["A1RKKUPIHCS9HS"]}
    if server is not None:
        values |= {"api_base_url": server.url, "lwa_token_url": server.url + TOKEN_PATH}
    values |= settings
    account = ChannelAccountFactory(
        store=store or StoreFactory(currency="EUR"), provider="amazon", channel=Channel.AMAZON,
        external_id="A3TH9S8BH6GOGM", settings=values,
    )
    account.set_secrets({
        "lwa_client_id": "amzn1.application-oa2-client.test", "lwa_client_secret": "lwa-secret",
        "refresh_token": "Atzr|refresh-token", "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
    })
    account.save()
    return account


class TokenEndpoint:
    """LWA's token endpoint: a new access token per exchange ("Atza|token-1", "Atza|token-2"...)."""

    def __init__(self, expires_in: int = 3600) -> None:
        self.expires_in = expires_in
        self.forms: list[dict] = []

    def __call__(self, recorded: Recorded) -> Answer:
        form = {key: values[0] for key, values in parse_qs(recorded.body.decode()).items()}
        self.forms.append(form)
        return Answer(200, {"access_token": f"Atza|token-{len(self.forms)}", "refresh_token": form.get("refresh_token"),
                            "token_type": "bearer", "expires_in": self.expires_in})


def order_items_pages() -> list[Answer]:
    """getOrderItems in two pages: the documented example (with its NextToken), then one item."""
    first = corpus_json("orders-v0-getOrderItems-example.json")
    first["payload"]["AmazonOrderId"] = ORDER_ID
    second = {"payload": {"AmazonOrderId": ORDER_ID, "OrderItems": [{
        "ASIN": "B0C1234567", "OrderItemId": "11111111111111", "SellerSKU": "CASE-BLUE", "Title": "Phone case, blue",
        "QuantityOrdered": 2, "ItemPrice": {"CurrencyCode": "JPY", "Amount": "30.00"},
    }]}}
    return [Answer(200, first), Answer(200, second)]
