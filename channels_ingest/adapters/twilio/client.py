"""Twilio's REST API for SMS: send a message, fetch MMS media.
https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions

Form-encoded requests with basic auth (Account SID : Auth Token) and explicit timeouts. Twilio's
error JSON ({"code": 21610, "message": ..., "more_info": ..., "status": 400}) is kept in the error,
which the agent sees on a failed reply. 429, 5xx and network faults pass; other 4xx are permanent.
The base URL is the account setting `api_base_url` (default https://api.twilio.com), so the tests
talk to a server on loopback.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from channels_ingest.base import ChannelError

DEFAULT_API_BASE_URL = "https://api.twilio.com"
TIMEOUT_SECONDS = 20


class TwilioError(ChannelError):
    def __init__(self, message: str, *, permanent: bool, status: int = 0, code: int | None = None) -> None:
        super().__init__(message, permanent=permanent)
        self.status = status
        self.code = code


@dataclass
class Credentials:
    account_sid: str
    auth_token: str
    base_url: str = DEFAULT_API_BASE_URL

    @property
    def authorization(self) -> str:
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        return "Basic " + base64.b64encode(pair).decode()


def credentials_for(account) -> Credentials:
    secrets = account.get_secrets()
    base = str((account.settings or {}).get("api_base_url") or DEFAULT_API_BASE_URL).rstrip("/")
    return Credentials(str(secrets.get("account_sid") or ""), str(secrets.get("auth_token") or ""), base)


def _error(status: int, raw: bytes) -> TwilioError:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        data = None
    code = data.get("code") if isinstance(data, dict) and isinstance(data.get("code"), int) else None
    text = str(data.get("message")) if isinstance(data, dict) and data.get("message") else raw[:300].decode(
        "utf-8", errors="replace")
    if code is not None:
        text = _("%(text)s (error %(code)s)") % {"text": text, "code": code}
    described = _("Twilio answered HTTP %(status)s: %(text)s") % {"status": status, "text": text}
    return TwilioError(described, permanent=status != 429 and status < 500, status=status, code=code)


def send_message(credentials: Credentials, fields: dict[str, str]) -> dict[str, Any]:
    url = f"{credentials.base_url}/2010-04-01/Accounts/{urllib.parse.quote(credentials.account_sid)}/Messages.json"
    outgoing = urllib.request.Request(
        url, data=urllib.parse.urlencode(fields).encode(), method="POST",
        headers={"Authorization": credentials.authorization, "Accept": "application/json",
                 "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(outgoing, timeout=TIMEOUT_SECONDS) as answer:
            raw = answer.read()
    except urllib.error.HTTPError as exc:
        raise _error(exc.code, exc.read()) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise TwilioError(_("Twilio could not be reached: %(error)s") % {"error": exc}, permanent=False) from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise TwilioError(_("Twilio's answer is not JSON."), permanent=False) from None
    return data if isinstance(data, dict) else {}


def fetch_media(credentials: Credentials, url: str, max_bytes: int) -> tuple[bytes, str]:
    """GET an MMS media URL (relative ones are read against the API base) with basic auth."""
    absolute = urllib.parse.urljoin(credentials.base_url + "/", url)
    outgoing = urllib.request.Request(absolute, headers={"Authorization": credentials.authorization})
    try:
        with urllib.request.urlopen(outgoing, timeout=TIMEOUT_SECONDS) as answer:
            content = answer.read(max_bytes + 1)
            content_type = answer.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        raise _error(exc.code, exc.read()) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise TwilioError(_("Twilio could not be reached: %(error)s") % {"error": exc}, permanent=False) from None
    if len(content) > max_bytes:
        raise TwilioError(_("The media file is larger than %(limit)s bytes.") % {"limit": max_bytes}, permanent=True)
    return content, content_type
