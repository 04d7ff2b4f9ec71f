"""SP-API client: Login with Amazon (LWA) token exchange and the Orders API v0.

- The seller's refresh token (from the app authorisation in Seller Central) is exchanged for an
  access token at the LWA token endpoint; the access token is cached until shortly before its
  `expires_in` and sent as `x-amz-access-token`.
- Rate limits: a 429 is retried after the answer's Retry-After when present, else after an
  exponential back-off with jitter, a bounded number of times.
- 401/403 (expired or revoked access token): the token is refreshed once and the call repeated;
  a second refusal, or an LWA refusal of the refresh token, puts the account in error
  ("credentials expired": the seller authorises the app again).
- 5xx and network faults are retried a few times, then reported as not permanent.

JSON is read with Decimal for floats; SP-API sends money as strings ("Amount": "11.01") anyway.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlencode

from channels_ingest import shop_http
from channels_ingest.adapters.amazon_sp.regions import endpoint_for
from channels_ingest.shop_http import CredentialsRejected, ProviderError

logger = logging.getLogger(__name__)

LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
TIMEOUT_SECONDS = 20
RATE_LIMIT_RETRIES = 5
SERVER_ERROR_RETRIES = 3
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 60.0
# An access token is renewed this long before Amazon says it expires.
TOKEN_MARGIN_SECONDS = 60
USER_AGENT = "helpdesk/1.0 (Language=Python)"

# (account pk, hash of client id and refresh token) -> (access token, monotonic expiry)
_token_cache: dict[tuple[int, str], tuple[str, float]] = {}
_token_lock = threading.Lock()


class CredentialsExpired(CredentialsRejected):
    """Amazon refused the seller's authorisation (a revoked or expired refresh token, or an
    access token refused again right after a refresh). The account is put in error."""


def mark_credentials_expired(account, error: str) -> None:
    """Record on the account that the seller must authorise the app again."""
    from channels_ingest.accounts.health import mark_credentials_expired as mark

    mark(account, f"Amazon credentials expired or revoked: {error}. "
                  "Authorise the app again in Seller Central and paste the new refresh token.")


def _error_detail(raw: bytes) -> str:
    """SP-API errors read {"errors": [{"code", "message", "details"}]}; LWA's
    {"error", "error_description"}."""
    try:
        data = shop_http.loads(raw)
    except ValueError:
        return raw[:500].decode("utf-8", errors="replace")
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return "; ".join(f"{item.get('code', '')}: {item.get('message', '')}".strip(": ") for item in errors)[:500]
        if "error" in data:
            return f"{data.get('error')}: {data.get('error_description', '')}".strip(": ")[:500]
    return str(data)[:500]


class SpApiClient:
    """One seller account's SP-API client. `sleep` and `rng` are the waiting and the jitter (a
    test passes its own to see the waits without spending them)."""

    def __init__(self, account, *, sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.account = account
        secrets = account.get_secrets()
        self.client_id = secrets.get("lwa_client_id") or ""
        self.client_secret = secrets.get("lwa_client_secret") or ""
        self.refresh_token = secrets.get("refresh_token") or ""
        settings = account.settings or {}
        self.token_url = settings.get("lwa_token_url") or LWA_TOKEN_URL
        self.base = endpoint_for(account)
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.clock = clock
        digest = hashlib.sha256(f"{self.client_id}\0{self.refresh_token}".encode()).hexdigest()[:16]
        self._cache_key = (account.pk or 0, digest)

    # --- LWA --------------------------------------------------------------------------------

    def access_token(self, *, force: bool = False) -> str:
        """A valid access token: the cached one, or a new one from LWA."""
        with _token_lock:
            cached = _token_cache.get(self._cache_key)
            if cached and not force and cached[1] > self.clock():
                return cached[0]
        if not (self.client_id and self.client_secret and self.refresh_token):
            raise CredentialsExpired("the Amazon account is not connected (LWA client id, secret or refresh token "
                                     "missing)", permanent=True)
        body = urlencode({
            "grant_type": "refresh_token", "refresh_token": self.refresh_token,
            "client_id": self.client_id, "client_secret": self.client_secret,
        }).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8", "Accept": "application/json"}
        status, _headers, data = self._send("POST", self.token_url, headers, body)
        token = str((data or {}).get("access_token") or "")
        if not token:
            raise ProviderError("LWA answered without an access token", permanent=False, status=status)
        try:
            lifetime = float((data or {}).get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        with _token_lock:
            _token_cache[self._cache_key] = (token, self.clock() + max(lifetime - TOKEN_MARGIN_SECONDS, 0.0))
        return token

    # --- Transport ----------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Exponential back-off with jitter, bounded: 1, 2, 4... seconds (at most 30), each
        between half and the whole of that."""
        ceiling = min(BACKOFF_BASE_SECONDS * (2 ** (attempt - 1)), BACKOFF_MAX_SECONDS)
        return ceiling * (0.5 + self.rng.random() / 2)

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None = None):
        """One request with the 429 and 5xx retries; raises on any other error status."""
        rate_limited = server_errors = 0
        while True:
            outgoing = urllib.request.Request(url, data=body, method=method, headers=headers)
            try:
                with urllib.request.urlopen(outgoing, timeout=TIMEOUT_SECONDS) as answer:
                    raw = answer.read()
                    return answer.status, answer.headers, shop_http.loads(raw) if raw.strip() else None
            except urllib.error.HTTPError as exc:
                raw = exc.read()
                status = exc.code
                detail = _error_detail(raw)
                if status == 429 and rate_limited < RATE_LIMIT_RETRIES:
                    rate_limited += 1
                    self.sleep(self._retry_after(exc.headers.get("Retry-After"), rate_limited))
                    continue
                if status >= 500 and server_errors < SERVER_ERROR_RETRIES:
                    server_errors += 1
                    self.sleep(self._backoff(server_errors))
                    continue
                if url == self.token_url and status in (400, 401):
                    # invalid_grant: the refresh token was revoked or has expired.
                    raise CredentialsExpired(f"LWA refused the refresh token (HTTP {status}: {detail})",
                                             permanent=True, status=status, detail=detail) from None
                if status in (401, 403):
                    raise CredentialsRejected(f"HTTP {status}: {detail}", permanent=True, status=status,
                                              detail=detail) from None
                permanent = status != 429 and status < 500
                raise ProviderError(f"HTTP {status}: {detail}", permanent=permanent, status=status,
                                    detail=detail) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if server_errors < SERVER_ERROR_RETRIES:
                    server_errors += 1
                    self.sleep(self._backoff(server_errors))
                    continue
                raise ProviderError(f"no answer from Amazon: {exc}", permanent=False) from None
            except ValueError as exc:
                raise ProviderError(f"Amazon's answer is not JSON: {exc}", permanent=False) from None

    def _retry_after(self, value: str | None, attempt: int) -> float:
        if value:
            try:
                return min(max(float(value), 0.0), MAX_RETRY_AFTER_SECONDS)
            except ValueError:
                pass  # an HTTP date: fall back to the back-off
        return self._backoff(attempt)

    def call(self, method: str, path: str, query: dict | None = None) -> dict:
        """One SP-API operation. An access token refused with 401/403 is refreshed once; refused
        again, the account's credentials are marked expired."""
        url = f"{self.base}{path}"
        if query:
            url = f"{url}?{urlencode(query)}"
        try:
            for attempt in (1, 2):
                headers = {
                    "x-amz-access-token": self.access_token(force=attempt == 2),
                    "Accept": "application/json",
                    "User-Agent": USER_AGENT,
                }
                try:
                    return self._send(method, url, headers)[2] or {}
                except CredentialsExpired:
                    raise
                except CredentialsRejected as exc:
                    if attempt == 2:
                        raise CredentialsExpired(f"access refused after a token refresh ({exc})", permanent=True,
                                                 status=exc.status, detail=exc.detail) from None
                    logger.info("SP-API refused the access token of account %s; refreshing it", self.account.pk)
        except CredentialsExpired as exc:
            mark_credentials_expired(self.account, str(exc))
            raise
        raise AssertionError("unreachable")

    # --- Orders API v0 ----------------------------------------------------------------------------

    def get_order(self, order_id: str) -> dict:
        """GET /orders/v0/orders/{orderId}: the order's `payload`."""
        return self.call("GET", f"/orders/v0/orders/{quote(order_id, safe='')}").get("payload") or {}

    def iter_order_items(self, order_id: str) -> Iterator[dict]:
        """GET /orders/v0/orders/{orderId}/orderItems, following NextToken."""
        path = f"/orders/v0/orders/{quote(order_id, safe='')}/orderItems"
        query: dict | None = None
        for _page in range(100):
            payload = self.call("GET", path, query).get("payload") or {}
            yield from payload.get("OrderItems") or []
            next_token = payload.get("NextToken")
            if not next_token:
                return
            query = {"NextToken": next_token}
        raise ProviderError("getOrderItems kept answering a NextToken after 100 pages", permanent=True)

    def get_order_items(self, order_id: str) -> list[dict]:
        return list(self.iter_order_items(order_id))


def forget_tokens() -> None:
    """Drop every cached access token (a reconnected account, tests)."""
    with _token_lock:
        _token_cache.clear()
