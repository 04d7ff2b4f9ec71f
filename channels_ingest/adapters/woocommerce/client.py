"""WooCommerce REST API v3 client: https://woocommerce.github.io/woocommerce-rest-api-docs/

Consumer key and secret as HTTP Basic auth, which WooCommerce accepts only over HTTPS (plain
HTTP is allowed to loopback addresses only, for development and tests). Pages are counted by
the `X-WP-TotalPages` header.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

from channels_ingest import shop_http
from channels_ingest.base import ChannelError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def site_url(account) -> str:
    url = ((account.settings or {}).get("site_url") or "").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return url
    raise ChannelError(f"the shop's address must be an https:// URL: {url!r}", permanent=True)


class WooCommerceClient:
    def __init__(self, account, *, sleep=None) -> None:
        self.base = site_url(account) + "/wp-json/wc/v3"
        secrets = account.get_secrets()
        key, secret = secrets.get("consumer_key") or "", secrets.get("consumer_secret") or ""
        if not key or not secret:
            raise shop_http.CredentialsRejected("no REST API keys for this shop", permanent=True)
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.sleep_kwargs = {"sleep": sleep} if sleep else {}

    def _call(self, method: str, path: str, query: dict | None = None, body=None) -> shop_http.Response:
        url = f"{self.base}/{path.lstrip('/')}" + (f"?{urlencode(query)}" if query else "")
        return shop_http.request(method, url, headers=self.headers, json_body=body, **self.sleep_kwargs)

    def get_order(self, order_id: str) -> dict:
        return self._call("GET", f"orders/{order_id}").data

    def orders_modified_since(self, since: datetime, *, page_size: int = 100) -> Iterator[dict]:
        page = 1
        while True:
            answer = self._call("GET", "orders", {
                "modified_after": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "dates_are_gmt": "true", "per_page": page_size, "page": page, "orderby": "modified", "order": "asc",
            })
            yield from answer.data or []
            try:
                total_pages = int(answer.headers.get("X-WP-TotalPages") or 1)
            except ValueError:
                total_pages = 1
            if page >= total_pages:
                return
            page += 1

    def create_refund(self, order_id: str, *, amount: str, reason: str = "", line_items: list | None = None) -> dict:
        body = {"amount": amount, "reason": reason, "api_refund": True}
        if line_items:
            body["line_items"] = line_items
        return self._call("POST", f"orders/{order_id}/refunds", body=body).data

    def add_note(self, order_id: str, note: str, *, customer_note: bool = False) -> dict:
        return self._call("POST", f"orders/{order_id}/notes", body={"note": note, "customer_note": customer_note}).data
