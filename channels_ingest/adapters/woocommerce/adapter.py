"""WooCommerce webhooks: https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks

- Authenticity: `X-WC-Webhook-Signature` is the base64 HMAC-SHA256 of the raw body keyed with
  the webhook's secret (the account's `webhook_secret`).
- De-duplication: `X-WC-Webhook-Delivery-ID`.
- When a webhook is created WooCommerce posts an unsigned ping, the form body `webhook_id=<n>`;
  it must be answered 2xx or the webhook is not saved. It is stored as ignored, nothing else.
- WooCommerce never retries a failed delivery and disables a webhook after 5 failures in a row:
  the periodic reconciliation through the REST API is what makes orders complete.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from channels_ingest import shop_http
from channels_ingest.adapters.woocommerce import normalize
from channels_ingest.base import (
    Adapter,
    CustomerProfile,
    ParseError,
    SignatureInvalid,
    Skipped,
    constant_time_equals,
)

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
PING = re.compile(rb"^webhook_id=(\d{1,20})$")


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _is_ping(request) -> bool:
    return SIGNATURE_HEADER not in request.headers and PING.match(request.body.strip()) is not None


class WooCommerceAdapter(Adapter):
    slug = "woocommerce"
    channel = "woocommerce"
    SUPPORTED_EVENTS = (
        "order.created", "order.updated", "order.restored", "customer.created", "customer.updated",
    )
    KEPT_HEADERS = (
        "content-type", "user-agent", "x-wc-webhook-topic", "x-wc-webhook-resource", "x-wc-webhook-event",
        "x-wc-webhook-source", "x-wc-webhook-id", "x-wc-webhook-delivery-id",
    )

    def verify(self, request, account) -> None:
        if _is_ping(request):
            return  # unsigned by design; stored as an ignored ping and nothing else
        secret = account.get_secrets().get("webhook_secret")
        if not secret:
            raise SignatureInvalid("the account has no webhook secret")
        given = request.headers.get(SIGNATURE_HEADER)
        if not given or not constant_time_equals(sign(secret, request.body), given.strip()):
            raise SignatureInvalid("X-WC-Webhook-Signature missing or wrong")

    def event_id(self, request, account) -> str:
        if _is_ping(request):
            return "ping:" + PING.match(request.body.strip()).group(1).decode()
        delivery = (request.headers.get("X-WC-Webhook-Delivery-ID") or "").strip()
        return delivery or super().event_id(request, account)

    def parse(self, event) -> list:
        body = event.body_bytes.strip()
        if event.event_id.startswith("ping:") and PING.match(body):
            return [Skipped("webhook creation ping")]
        topic = (event.headers.get("x-wc-webhook-topic") or "").strip()
        try:
            payload = shop_http.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"the body is not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise ParseError("the body is not a JSON object")
        resource = topic.partition(".")[0]
        if resource == "order":
            if normalize.is_refund(payload):
                return [normalize.refund_event(payload)]
            if normalize.is_note(payload):
                return [Skipped("order notes are not imported")]
            if topic == "order.deleted":
                return [Skipped("a deleted order is kept as it was")]
            return [normalize.order(payload)]
        if resource == "customer" and topic != "customer.deleted":
            handle = normalize.customer_handle(payload)
            return [CustomerProfile(handle)] if handle else [Skipped("customer without id or email")]
        return [Skipped(f"topic {topic or '(none)'} is not used")]
