"""A small Graph API client (Messenger Send API, WhatsApp Cloud API messages and media).
https://developers.facebook.com/docs/graph-api/guides/error-handling

Explicit timeouts; the token goes in the Authorization header, never in a URL (URLs end up in
logs). Errors keep Meta's own message and code, which the agent sees on the failed reply:
- HTTP 429, 5xx, no answer, and Meta's throttling codes are passing faults (the task retries);
- any other 4xx is permanent (bad recipient, window closed, token revoked).
The base URL is an account setting (`graph_base_url`), so the tests talk to a server on loopback.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from channels_ingest.base import ChannelError

DEFAULT_GRAPH_BASE_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v21.0"
TIMEOUT_SECONDS = 20
# Meta's "try again later" codes: API too many calls, temporarily unavailable, rate limits.
TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 368, 613, 80006, 130429, 131016, 131048, 131056}


class GraphError(ChannelError):
    def __init__(self, message: str, *, permanent: bool, status: int = 0, code: int | None = None,
                 subcode: int | None = None) -> None:
        super().__init__(message, permanent=permanent)
        self.status = status
        self.code = code
        self.subcode = subcode


@dataclass
class Downloaded:
    content: bytes
    content_type: str


def graph_url(account, path: str) -> str:
    settings = account.settings or {}
    base = str(settings.get("graph_base_url") or DEFAULT_GRAPH_BASE_URL).rstrip("/")
    version = str(settings.get("graph_version") or DEFAULT_GRAPH_VERSION).strip("/")
    return f"{base}/{version}/{path.lstrip('/')}"


def _error(status: int, raw: bytes) -> GraphError:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code") if isinstance(error.get("code"), int) else None
        subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
        text = str(error.get("message") or error.get("error_user_msg") or "error")
        details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
        if details:
            text = f"{text}: {details}"
        if code is not None:
            text = _("%(text)s (code %(code)s)") % {"text": text, "code": code}
        described = _("Meta answered HTTP %(status)s: %(text)s") % {"status": status, "text": text}
    else:
        code = subcode = None
        described = _("Meta answered HTTP %(status)s: %(text)s") % {
            "status": status, "text": raw[:300].decode("utf-8", errors="replace")}
    permanent = status != 429 and status < 500 and code not in TRANSIENT_CODES
    return GraphError(described, permanent=permanent, status=status, code=code, subcode=subcode)


def request_json(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    outgoing = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(outgoing, timeout=TIMEOUT_SECONDS) as answer:
            raw = answer.read()
    except urllib.error.HTTPError as exc:
        raise _error(exc.code, exc.read()) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise GraphError(_("Meta could not be reached: %(error)s") % {"error": exc}, permanent=False) from None
    try:
        answer_data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise GraphError(_("Meta's answer is not JSON."), permanent=False) from None
    return answer_data if isinstance(answer_data, dict) else {}


def download(url: str, token: str, max_bytes: int) -> Downloaded:
    """GET a media file with the bearer token (WhatsApp media URLs require it)."""
    outgoing = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(outgoing, timeout=TIMEOUT_SECONDS) as answer:
            content = answer.read(max_bytes + 1)
            content_type = answer.headers.get_content_type() or "application/octet-stream"
    except urllib.error.HTTPError as exc:
        raise _error(exc.code, exc.read()) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise GraphError(_("Meta could not be reached: %(error)s") % {"error": exc}, permanent=False) from None
    if len(content) > max_bytes:
        raise GraphError(_("The media file is larger than %(limit)s bytes.") % {"limit": max_bytes}, permanent=True)
    return Downloaded(content, content_type)
