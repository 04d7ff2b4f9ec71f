"""Shared by the shop tests: Shopify and WooCommerce accounts, signed corpus deliveries, and a
local HTTP server on loopback that answers as the shops' APIs do (scripted per test)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from channels_ingest.adapters.shopify.adapter import sign as shopify_sign
from channels_ingest.adapters.woocommerce.adapter import sign as woo_sign
from tests.factories import ChannelAccountFactory, StoreFactory
from tests.webhook_helpers import post_webhook
from tickets.models import Channel, ChannelAccount

SHOPIFY_SECRET = "shpss_test_client_secret"
WOO_SECRET = "woo webhook secret"


def shopify_account(**settings) -> ChannelAccount:
    account = ChannelAccountFactory(
        store=StoreFactory(currency="USD"), provider="shopify", channel=Channel.SHOPIFY,
        external_id="johns-apparel.myshopify.com", settings=settings,
    )
    account.set_secrets({"client_id": "app-client-id", "client_secret": SHOPIFY_SECRET, "access_token": "shpat_test"})
    account.save()
    return account


def woo_account(**settings) -> ChannelAccount:
    account = ChannelAccountFactory(
        store=StoreFactory(currency="USD"), provider="woocommerce", channel=Channel.WOOCOMMERCE,
        external_id="example.com", settings=settings,
    )
    account.set_secrets({"webhook_secret": WOO_SECRET, "consumer_key": "ck_test", "consumer_secret": "cs_test"})
    account.save()
    return account


def post_shopify(client, account, body: bytes, topic: str, webhook_id: str = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
                 signature: str | None = "sign"):
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": "johns-apparel.myshopify.com",
               "X-Shopify-API-Version": "2026-04", "X-Shopify-Webhook-Id": webhook_id}
    if signature == "sign":
        headers["X-Shopify-Hmac-Sha256"] = shopify_sign(SHOPIFY_SECRET, body)
    elif signature is not None:
        headers["X-Shopify-Hmac-Sha256"] = signature
    return post_webhook(client, "shopify", account, body, "application/json", headers)


def post_woo(client, account, body: bytes, topic: str, delivery_id: str = "1", signature: str | None = "sign"):
    resource, _, event = topic.partition(".")
    headers = {"X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
               "X-WC-Webhook-Source": "http://example.com/", "X-WC-Webhook-ID": "12",
               "X-WC-Webhook-Delivery-ID": delivery_id}
    if signature == "sign":
        headers["X-WC-Webhook-Signature"] = woo_sign(WOO_SECRET, body)
    elif signature is not None:
        headers["X-WC-Webhook-Signature"] = signature
    return post_webhook(client, "woocommerce", account, body, "application/json", headers)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes | dict | list = b""
    headers: dict = field(default_factory=dict)


class ShopServer:
    """A threaded HTTP server on 127.0.0.1. `route(method, path, answers)` scripts the answers for
    a path: a list is answered in turn (the last one repeats), a callable gets the request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer] | Callable[[Recorded], Answer]] = {}
        self.requests: list[Recorded] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(self.command, parts.path, parse_qs(parts.query), dict(self.headers),
                                    self.rfile.read(length) if length else b"")
                server.requests.append(recorded)
                answer = server._answer(recorded)
                body = answer.body
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                self.send_response(answer.status)
                for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                    self.send_header(name, value.replace("{base}", server.url))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _answer(self, recorded: Recorded) -> Answer:
        script = self.routes.get((recorded.method, recorded.path))
        if script is None:
            return Answer(404, {"errors": "Not Found"})
        if callable(script):
            return script(recorded)
        return script.pop(0) if len(script) > 1 else script[0]

    def route(self, method: str, path: str, answers) -> None:
        self.routes[(method, path)] = answers if callable(answers) else list(answers)

    def __enter__(self) -> ShopServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
