"""Shopify app installation by OAuth (authorization code grant):
https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant

1. The admin starts the install: we redirect to https://<shop>/admin/oauth/authorize with the
   app's client id, the scopes, our callback URL and a one-time `state` nonce kept in the session.
2. Shopify redirects back with code, shop, state, timestamp and hmac. We check the hmac (HMAC-
   SHA256 of the other query parameters, sorted, keyed with the client secret), the nonce, the
   shop's domain, and that the request is recent.
3. The code is exchanged at https://<shop>/admin/oauth/access_token for the offline access token,
   stored encrypted in the account's secrets and never shown again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode

from channels_ingest import shop_http
from channels_ingest.adapters.shopify.client import SHOP_DOMAIN, shop_base_url
from channels_ingest.base import constant_time_equals

SCOPES = ("read_orders", "write_orders", "read_customers", "read_fulfillments")
MAX_CALLBACK_AGE_SECONDS = 24 * 3600


class InstallRefused(Exception):
    """The callback is not a genuine answer to our install request."""


def new_state() -> str:
    return secrets.token_urlsafe(24)


def authorize_url(account, *, redirect_uri: str, state: str) -> str:
    client_id = account.get_secrets().get("client_id") or ""
    query = {"client_id": client_id, "scope": ",".join(SCOPES), "redirect_uri": redirect_uri, "state": state}
    return f"{shop_base_url(account)}/admin/oauth/authorize?{urlencode(query)}"


def query_hmac(params: dict[str, str], client_secret: str) -> str:
    message = "&".join(f"{key}={value}" for key, value in sorted(params.items()) if key not in ("hmac", "signature"))
    return hmac.new(client_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def check_callback(account, params: dict[str, str], *, expected_state: str | None, now: float | None = None) -> None:
    """Raise InstallRefused unless the callback's hmac, state, shop and time are right."""
    client_secret = account.get_secrets().get("client_secret") or ""
    if not client_secret:
        raise InstallRefused("the account has no client secret")
    if not constant_time_equals(query_hmac(params, client_secret), params.get("hmac", "")):
        raise InstallRefused("hmac missing or wrong")
    if not expected_state or not constant_time_equals(expected_state, params.get("state", "")):
        raise InstallRefused("state does not match the install request")
    shop = params.get("shop", "").lower()
    if not SHOP_DOMAIN.match(shop) or shop != (account.external_id or "").lower():
        raise InstallRefused("the shop is not this account's shop")
    try:
        age = (now or time.time()) - int(params.get("timestamp", "0"))
    except ValueError:
        raise InstallRefused("timestamp is not a number") from None
    if not -300 <= age <= MAX_CALLBACK_AGE_SECONDS:
        raise InstallRefused("the callback is too old")
    if not params.get("code"):
        raise InstallRefused("no authorization code")


def exchange_code(account, code: str) -> dict:
    """Trade the code for the access token and store it; returns {"scope": ...}."""
    stored = account.get_secrets()
    answer = shop_http.request(
        "POST", f"{shop_base_url(account)}/admin/oauth/access_token",
        json_body={"client_id": stored.get("client_id", ""), "client_secret": stored.get("client_secret", ""), "code": code},
    )
    token = (answer.data or {}).get("access_token")
    if not token:
        raise shop_http.ProviderError("Shopify answered without an access token", permanent=True, status=answer.status)
    account.set_secrets({**stored, "access_token": token})
    account.settings = {**(account.settings or {}), "scopes": (answer.data or {}).get("scope", "")}
    if account.status != account.Status.PAUSED:
        account.status = account.Status.ACTIVE
    account.last_error = ""
    account.credentials_expired_at = None
    account.save(update_fields=["secrets_encrypted", "settings", "status", "last_error", "credentials_expired_at"])
    return {"scope": answer.data.get("scope", "")}
