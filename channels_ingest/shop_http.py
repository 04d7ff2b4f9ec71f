"""The small HTTP client the shop adapters share (Shopify Admin API, WooCommerce REST API).

JSON is read with `parse_float=Decimal` (money never passes through a float) and integers stay
Python ints (64-bit ids stay exact). Explicit timeouts; 429 is retried after the provider's
Retry-After; 5xx and network faults are retried a few times and then reported as not permanent
(the caller's task retries later); 401/403 are permanent: the credentials are wrong or expired.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from email.message import Message as HeaderMessage
from typing import Any

from channels_ingest.base import ChannelError

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20
RATE_LIMIT_RETRIES = 4
SERVER_ERROR_RETRIES = 2
MAX_RETRY_AFTER_SECONDS = 60.0


class ProviderError(ChannelError):
    """The provider refused or failed. `status` is its HTTP status (0: no answer); `detail` its
    own error text, shown to the agent."""

    def __init__(self, message: str, *, permanent: bool, status: int = 0, detail: str = "") -> None:
        super().__init__(message, permanent=permanent)
        self.status = status
        self.detail = detail


class CredentialsRejected(ProviderError):
    """401/403: the token or keys are wrong, revoked or expired; reconnect the account."""


@dataclass
class Response:
    status: int
    headers: HeaderMessage
    data: Any


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, parse_float=Decimal)


def dumps(data: Any) -> bytes:
    return json.dumps(data, default=_encode).encode()


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _error_detail(raw: bytes) -> str:
    try:
        data = loads(raw)
    except ValueError:
        return raw[:500].decode("utf-8", errors="replace")
    if isinstance(data, dict):
        for key in ("errors", "error", "message", "error_description"):
            if key in data:
                value = data[key]
                return value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(data, default=str)[:500]


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    data: bytes | None = None,
    raw: bool = False,
    sleep=time.sleep,
) -> Response:
    """Send one API request, retrying 429 and 5xx as described above. `data` sends bytes as they
    are (the caller sets their Content-Type: a form, XML); `raw` returns the answer's bytes
    undecoded (an XML API)."""
    body = dumps(json_body) if json_body is not None else data
    all_headers = {"Accept": "application/json", **(headers or {})}
    if json_body is not None:
        all_headers["Content-Type"] = "application/json"
    rate_limited = server_errors = 0
    while True:
        outgoing = urllib.request.Request(url, data=body, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(outgoing, timeout=TIMEOUT_SECONDS) as answer:
                content = answer.read()
                if raw:
                    return Response(answer.status, answer.headers, content)
                return Response(answer.status, answer.headers, loads(content) if content.strip() else None)
        except urllib.error.HTTPError as exc:
            content = exc.read()
            status = exc.code
            detail = _error_detail(content)
            if status == 429 and rate_limited < RATE_LIMIT_RETRIES:
                rate_limited += 1
                sleep(_retry_after(exc.headers.get("Retry-After")))
                continue
            if status >= 500 and server_errors < SERVER_ERROR_RETRIES:
                server_errors += 1
                sleep(0.5 * server_errors)
                continue
            if status in (401, 403):
                raise CredentialsRejected(f"HTTP {status}: {detail}", permanent=True, status=status, detail=detail) from None
            permanent = status != 429 and status < 500
            raise ProviderError(f"HTTP {status}: {detail}", permanent=permanent, status=status, detail=detail) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            if server_errors < SERVER_ERROR_RETRIES:
                server_errors += 1
                sleep(0.5 * server_errors)
                continue
            raise ProviderError(f"no answer: {exc}", permanent=False) from None
        except ValueError as exc:
            raise ProviderError(f"the provider's answer is not JSON: {exc}", permanent=False) from None


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value else 2.0
    except ValueError:
        seconds = 2.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def next_link(link_header: str | None) -> str | None:
    """The rel="next" URL of an RFC 8288 Link header (Shopify's cursor pagination)."""
    if not link_header:
        return None
    for part in link_header.split(","):
        pieces = part.split(";")
        url = pieces[0].strip()
        if any(piece.strip().replace(" ", "") in ('rel="next"', "rel=next") for piece in pieces[1:]):
            if url.startswith("<") and url.endswith(">"):
                return url[1:-1]
    return None
