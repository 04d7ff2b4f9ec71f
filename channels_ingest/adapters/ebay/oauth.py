"""eBay OAuth tokens: https://developer.ebay.com/api-docs/static/oauth-tokens.html

- The *user* access token (Fulfillment API, Trading API through X-EBAY-API-IAF-TOKEN) lives two
  hours; it is renewed with the long-lived refresh token the seller's consent gave us
  (POST /identity/v1/oauth2/token, grant_type=refresh_token, HTTP basic auth with the app's
  client id and secret).
- The *application* token (client credentials) is what the Notification API's getPublicKey
  needs; it is kept in memory until shortly before it expires.

A refused refresh (the seller revoked the consent, or the refresh token expired after 18 months)
puts the account in error with a clear reason: the admin reconnects it.
"""

from __future__ import annotations

import base64
import threading
import time
from datetime import timedelta
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from channels_ingest import shop_http
from tickets.models import ChannelAccount

API_BASE_URL = "https://api.ebay.com"
APPLICATION_SCOPE = "https://api.ebay.com/oauth/api_scope"
# Renew a little before eBay's expiry, so a token never dies in the middle of a call.
EXPIRY_MARGIN = timedelta(minutes=5)

_application_tokens: dict[tuple[str, str], tuple[float, str]] = {}
_application_lock = threading.Lock()


def api_base_url(account: ChannelAccount) -> str:
    """https://api.ebay.com, or the account's `api_base_url` (the sandbox, a proxy, a test server)."""
    return ((account.settings or {}).get("api_base_url") or API_BASE_URL).rstrip("/")


def _basic(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


def _token_request(account: ChannelAccount, form: dict[str, str], sleep=None) -> dict:
    secrets = account.get_secrets()
    client_id, client_secret = secrets.get("client_id") or "", secrets.get("client_secret") or ""
    if not client_id or not client_secret:
        raise shop_http.CredentialsRejected("the eBay account has no client id and secret", permanent=True)
    answer = shop_http.request(
        "POST", f"{api_base_url(account)}/identity/v1/oauth2/token",
        headers={"Authorization": _basic(client_id, client_secret),
                 "Content-Type": "application/x-www-form-urlencoded"},
        data=urlencode(form).encode(), **({"sleep": sleep} if sleep else {}),
    )
    data = answer.data or {}
    if not data.get("access_token"):
        raise shop_http.ProviderError("eBay answered the token request without a token", permanent=False)
    return data


def mark_credentials_expired(account: ChannelAccount, reason: str) -> None:
    """The account cannot reach eBay until an admin reconnects it: say so on the account."""
    from channels_ingest.accounts.health import mark_credentials_expired as mark

    mark(account, f"eBay credentials expired or revoked: {reason}. Reconnect the account.")


def refresh_user_token(account: ChannelAccount, *, sleep=None) -> str:
    """Exchange the refresh token for a new user access token, store it (encrypted) and return it.
    A refusal marks the account's credentials expired and raises CredentialsRejected."""
    secrets = account.get_secrets()
    refresh_token = secrets.get("refresh_token") or ""
    if not refresh_token:
        mark_credentials_expired(account, "no refresh token")
        raise shop_http.CredentialsRejected("the eBay account has no refresh token", permanent=True)
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if secrets.get("scopes"):
        form["scope"] = secrets["scopes"]
    try:
        data = _token_request(account, form, sleep)
    except shop_http.ProviderError as exc:
        if exc.permanent:  # 400 invalid_grant, 401 invalid_client: nothing but a new consent helps
            mark_credentials_expired(account, exc.detail or str(exc))
            raise shop_http.CredentialsRejected(str(exc), permanent=True, status=exc.status, detail=exc.detail) from None
        raise
    expires_at = timezone.now() + timedelta(seconds=int(data.get("expires_in") or 7200))
    # Read the secrets again before writing: an admin may have changed another one meanwhile.
    account.refresh_from_db(fields=["secrets_encrypted"])
    stored = account.get_secrets()
    stored.update(access_token=data["access_token"], access_token_expires_at=expires_at.isoformat())
    account.set_secrets(stored)
    ChannelAccount.objects.filter(pk=account.pk).update(secrets_encrypted=account.secrets_encrypted)
    return data["access_token"]


def user_token(account: ChannelAccount, *, sleep=None) -> str:
    """A user access token that is valid for a while yet (refreshed when needed)."""
    secrets = account.get_secrets()
    token = secrets.get("access_token") or ""
    expires_at = parse_datetime(secrets.get("access_token_expires_at") or "")
    if token and (expires_at is None or expires_at - EXPIRY_MARGIN > timezone.now()):
        return token
    return refresh_user_token(account, sleep=sleep)


def application_token(account: ChannelAccount, *, sleep=None) -> str:
    """An application (client credentials) token, cached in memory per app until near expiry."""
    secrets = account.get_secrets()
    key = (api_base_url(account), secrets.get("client_id") or "")
    now = time.monotonic()
    with _application_lock:
        cached = _application_tokens.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
    data = _token_request(account, {"grant_type": "client_credentials", "scope": APPLICATION_SCOPE}, sleep)
    lifetime = max(int(data.get("expires_in") or 7200) - EXPIRY_MARGIN.total_seconds(), 60)
    with _application_lock:
        _application_tokens[key] = (now + lifetime, data["access_token"])
    return data["access_token"]


def forget_application_tokens() -> None:
    with _application_lock:
        _application_tokens.clear()
