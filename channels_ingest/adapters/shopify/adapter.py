"""Shopify webhooks: https://shopify.dev/docs/apps/build/webhooks

- Authenticity: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body, keyed with
  the app's client secret (the account's `client_secret`).
- De-duplication: `X-Shopify-Webhook-Id` is the same on every retry of one delivery (Shopify
  retries 8 times over 4 hours, then gives up: reconciliation catches what never came).
- The topic (`X-Shopify-Topic`) says what the body is; the mandatory privacy topics are acted on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from channels_ingest import shop_http
from channels_ingest.adapters.shopify import normalize
from channels_ingest.base import (
    Adapter,
    CustomerProfile,
    ParseError,
    PrivacyRequest,
    SignatureInvalid,
    Skipped,
    constant_time_equals,
)

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
ORDER_TOPICS = (
    "orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",
    "orders/partially_fulfilled",
)
PRIVACY_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")


def sign(secret: str, body: bytes) -> str:
    """The X-Shopify-Hmac-Sha256 value of `body`."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class ShopifyAdapter(Adapter):
    slug = "shopify"
    channel = "shopify"
    SUPPORTED_EVENTS = (
        *ORDER_TOPICS, "refunds/create", "fulfillments/create", "fulfillments/update",
        "customers/create", "customers/update", *PRIVACY_TOPICS,
    )
    KEPT_HEADERS = (
        "content-type", "user-agent", "x-shopify-topic", "x-shopify-shop-domain", "x-shopify-api-version",
        "x-shopify-webhook-id", "x-shopify-triggered-at", "x-shopify-event-id",
    )

    def verify(self, request, account) -> None:
        secret = account.get_secrets().get("client_secret")
        if not secret:
            raise SignatureInvalid("the account has no client secret")
        given = request.headers.get(HMAC_HEADER)
        if not given or not constant_time_equals(sign(secret, request.body), given.strip()):
            raise SignatureInvalid("X-Shopify-Hmac-Sha256 missing or wrong")

    def event_id(self, request, account) -> str:
        webhook_id = (request.headers.get("X-Shopify-Webhook-Id") or "").strip()
        return webhook_id or super().event_id(request, account)

    def parse(self, event) -> list:
        topic = (event.headers.get("x-shopify-topic") or "").strip()
        shop = (event.headers.get("x-shopify-shop-domain") or "").strip().lower()
        expected = (event.account.external_id or "").strip().lower()
        if shop and expected and shop != expected:
            # A public app signs every shop's webhooks with the same secret: a delivery for
            # another shop (a misconfigured URL) must never touch this shop's data.
            raise ParseError(f"delivery for {shop}, but this account is {expected}")
        if topic not in self.SUPPORTED_EVENTS:
            return [Skipped(f"topic {topic or '(none)'} is not used")]
        try:
            payload = shop_http.loads(event.body_bytes)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"the body is not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise ParseError("the body is not a JSON object")
        return parse_topic(topic, payload)


def parse_topic(topic: str, payload: dict) -> list:
    if topic in ORDER_TOPICS:
        return [normalize.order(payload)]
    if topic == "refunds/create":
        return [normalize.refund_event(payload)]
    if topic.startswith("fulfillments/"):
        return [normalize.fulfillment_event(payload)]
    if topic.startswith("customers/") and topic not in PRIVACY_TOPICS:
        handle = normalize.customer_handle(payload)
        return [CustomerProfile(handle)] if handle else [Skipped("customer without id or email")]
    customer = payload.get("customer") or {}
    if topic == "shop/redact":
        return [PrivacyRequest(kind="shop_redact")]
    orders = payload.get("orders_requested" if topic == "customers/data_request" else "orders_to_redact") or []
    return [
        PrivacyRequest(
            kind="data_request" if topic == "customers/data_request" else "customer_redact",
            customer_external_id=normalize.identifier(customer["id"], "customer.id") if customer.get("id") else "",
            email=str(customer.get("email") or ""),
            phone=str(customer.get("phone") or ""),
            order_external_ids=[normalize.identifier(value, "order id") for value in orders],
            request_id=str((payload.get("data_request") or {}).get("id") or ""),
        )
    ]
