"""Shopify Admin REST API client: https://shopify.dev/docs/api/admin-rest

Versioned paths (/admin/api/<version>/...), the `X-Shopify-Access-Token` header, cursor
pagination through the Link header, 429 answered after Retry-After (see `shop_http`).
The base URL is https://<shop domain>; an account's `api_base_url` setting replaces it (a proxy,
or a local server in tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from channels_ingest import shop_http
from channels_ingest.base import ChannelError

API_VERSION = "2025-01"
# Subscribed after the app is installed. The privacy topics (customers/data_request,
# customers/redact, shop/redact) cannot be subscribed by API: they are set in the app's settings.
WEBHOOK_TOPICS = ("orders/create", "orders/updated", "refunds/create", "fulfillments/create", "customers/create")
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


def shop_base_url(account) -> str:
    override = (account.settings or {}).get("api_base_url")
    if override:
        return override.rstrip("/")
    domain = (account.external_id or "").strip().lower()
    if not SHOP_DOMAIN.match(domain):
        raise ChannelError(f"not a Shopify shop domain: {domain!r}", permanent=True)
    return f"https://{domain}"


class ShopifyClient:
    def __init__(self, account, *, sleep=None) -> None:
        self.account = account
        self.base = shop_base_url(account)
        self.version = (account.settings or {}).get("api_version") or API_VERSION
        self.token = account.get_secrets().get("access_token") or ""
        self.sleep_kwargs = {"sleep": sleep} if sleep else {}

    def _url(self, path: str, query: dict | None = None) -> str:
        url = f"{self.base}/admin/api/{self.version}/{path.lstrip('/')}"
        return f"{url}?{urlencode(query)}" if query else url

    def _call(self, method: str, url: str, body=None) -> shop_http.Response:
        if not self.token:
            raise shop_http.CredentialsRejected("the shop is not connected (no access token)", permanent=True)
        return shop_http.request(
            method, url, headers={"X-Shopify-Access-Token": self.token}, json_body=body, **self.sleep_kwargs
        )

    def get_order(self, order_id: str) -> dict:
        return self._call("GET", self._url(f"orders/{order_id}.json")).data["order"]

    def get_customer(self, customer_id: str) -> dict:
        return self._call("GET", self._url(f"customers/{customer_id}.json")).data["customer"]

    def orders_updated_since(self, since: datetime, *, page_size: int = 250) -> Iterator[dict]:
        """Every order (open, closed and cancelled) changed since `since`, page by page."""
        url: str | None = self._url(
            "orders.json", {"updated_at_min": since.isoformat(), "status": "any", "limit": page_size}
        )
        origin = urlsplit(self.base)
        while url:
            answer = self._call("GET", url)
            yield from answer.data.get("orders", [])
            url = shop_http.next_link(answer.headers.get("Link"))
            # Only follow pagination links to the shop itself: the token goes with each request.
            if url and urlsplit(url)[:2] != origin[:2]:
                raise ChannelError(f"pagination link leaves the shop: {url}", permanent=True)

    def calculate_refund(self, order_id: str, refund: dict) -> dict:
        answer = self._call("POST", self._url(f"orders/{order_id}/refunds/calculate.json"), {"refund": refund})
        return answer.data["refund"]

    def create_refund(self, order_id: str, refund: dict) -> dict:
        answer = self._call("POST", self._url(f"orders/{order_id}/refunds.json"), {"refund": refund})
        return answer.data["refund"]

    def cancel_order(self, order_id: str, *, reason: str = "customer") -> dict:
        answer = self._call("POST", self._url(f"orders/{order_id}/cancel.json"), {"reason": reason})
        return answer.data.get("order") or {}

    def update_note(self, order_id: str, note: str) -> dict:
        body = {"order": {"id": int(order_id), "note": note}}
        return self._call("PUT", self._url(f"orders/{order_id}.json"), body).data["order"]

    def register_webhooks(self, address: str, topics: tuple[str, ...] = WEBHOOK_TOPICS) -> list[str]:
        """Subscribe `address` to `topics`; returns the topics newly subscribed. A topic already
        subscribed to this address (Shopify answers 422 "has already been taken") is fine."""
        created = []
        for topic in topics:
            try:
                self._call("POST", self._url("webhooks.json"),
                           {"webhook": {"topic": topic, "address": address, "format": "json"}})
            except shop_http.ProviderError as exc:
                if exc.status == 422 and "already been taken" in exc.detail:
                    continue
                raise
            created.append(topic)
        return created
