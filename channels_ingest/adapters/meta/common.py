"""What Messenger, Instagram and WhatsApp Cloud webhooks share: Meta's verification handshake, the
X-Hub-Signature-256 check, timestamps and a stable event id for batched deliveries.
https://developers.facebook.com/docs/graph-api/webhooks/getting-started

Account secrets: `app_secret` (signs every POST), `verify_token` (answered in the GET handshake
when the webhook is set up in the Meta app dashboard).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.http import HttpResponse

from channels_ingest.base import ParseError, SignatureInvalid, constant_time_equals, hmac_sha256_hex

SIGNATURE_HEADER = "X-Hub-Signature-256"
# Longer keys are hashed: the event id column holds 255 characters.
MAX_PLAIN_EVENT_ID = 200


def sign(app_secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value Meta puts on `body`."""
    return "sha256=" + hmac_sha256_hex(app_secret, body)


def handshake(request, account) -> HttpResponse:
    """GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...: answer the challenge as plain
    text when the token is the account's; 403 otherwise (Meta then refuses to save the webhook)."""
    expected = account.get_secrets().get("verify_token") or ""
    mode = request.GET.get("hub.mode")
    token = request.GET.get("hub.verify_token")
    challenge = request.GET.get("hub.challenge", "")
    if mode == "subscribe" and expected and constant_time_equals(expected, token):
        return HttpResponse(challenge, content_type="text/plain; charset=utf-8")
    return HttpResponse("verification failed", status=403, content_type="text/plain; charset=utf-8")


def verify_signature(request, account) -> None:
    app_secret = account.get_secrets().get("app_secret")
    if not app_secret:
        raise SignatureInvalid("the account has no app secret")
    given = request.headers.get(SIGNATURE_HEADER)
    if not given or not constant_time_equals(sign(app_secret, request.body), given.strip()):
        raise SignatureInvalid("X-Hub-Signature-256 missing or wrong")


def load_payload(body: bytes, expected_objects: tuple[str, ...]) -> dict[str, Any]:
    """The webhook's JSON object, or ParseError saying why it is not one we understand."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"the body is not JSON ({exc})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise ParseError("not a Meta webhook: no entry list")
    if payload.get("object") not in expected_objects:
        raise ParseError(f"unexpected webhook object {payload.get('object')!r}, expected {' or '.join(expected_objects)}")
    return payload


def try_load(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def event_id_from_keys(keys: list[str], payload: Any) -> str:
    """One delivery's id: the provider's message ids (and status kinds) it carries, so a retry of
    the same events is stored once even if re-serialised; receipts without ids use a hash of the
    canonical JSON of the entries (whitespace and key order do not matter)."""
    if keys:
        joined = ",".join(sorted(set(keys)))
        if len(joined) <= MAX_PLAIN_EVENT_ID:
            return joined
        return "keys-sha256:" + hashlib.sha256(joined.encode()).hexdigest()
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "entry-sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def from_millis(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def from_seconds(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
