"""Generic signed JSON webhook, for any marketplace or shop without an adapter of its own
(eMAG, Allegro, Etsy, Bol, a custom site).

Authentication: header `X-Helpdesk-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, keyed
with the account's `signing_secret`. Each delivery carries a unique `id` (the event id); a
repeated id is stored once. The format is documented in the README.
"""

from __future__ import annotations

import base64
import binascii
import json

from pydantic import ValidationError

from channels_ingest.adapters.generic.schemas import GenericEvent
from channels_ingest.base import (
    Adapter,
    CustomerHandle,
    InboundAttachment,
    NormalizedMessage,
    ParseError,
    SignatureInvalid,
    constant_time_equals,
    hmac_sha256_hex,
)

SIGNATURE_HEADER = "X-Helpdesk-Signature"


def sign(secret: str, body: bytes) -> str:
    """The header value a sender puts on `body`."""
    return "sha256=" + hmac_sha256_hex(secret, body)


def verify_helpdesk_signature(request, account) -> None:
    """Our own scheme (generic webhook, raw MIME POST): `X-Helpdesk-Signature: sha256=<hex>`, the
    HMAC-SHA256 of the raw body keyed with the account's `signing_secret`."""
    secret = account.get_secrets().get("signing_secret")
    if not secret:
        raise SignatureInvalid("the account has no signing secret")
    given = request.headers.get(SIGNATURE_HEADER)
    if not given or not constant_time_equals(sign(secret, request.body), given.strip()):
        raise SignatureInvalid("signature missing or wrong")


class GenericAdapter(Adapter):
    slug = "generic"
    channel = "marketplace"
    SUPPORTED_EVENTS = ("message.created",)
    KEPT_HEADERS = ("content-type", "user-agent", "x-helpdesk-event")

    def verify(self, request, account) -> None:
        verify_helpdesk_signature(request, account)

    def event_id(self, request, account) -> str:
        """The sender's `id`. A well-signed body without one is still kept (under the hash of its
        bytes) so that it fails visibly in the admin instead of being lost."""
        try:
            payload = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            payload = None
        event_id = payload.get("id") if isinstance(payload, dict) else None
        if isinstance(event_id, str) and event_id.strip():
            return event_id.strip()
        return super().event_id(request, account)

    def parse(self, event) -> list[NormalizedMessage]:
        try:
            parsed = GenericEvent.model_validate_json(event.body_bytes)
        except ValidationError as exc:
            raise ParseError(_describe(exc)) from None
        if parsed.type not in self.SUPPORTED_EVENTS or parsed.message is None:
            return []
        message = parsed.message
        channel = event.account.channel or self.channel
        return [
            NormalizedMessage(
                channel=channel,
                external_id=message.id,
                thread_key=message.thread_id,
                customer=CustomerHandle(
                    kind="shop_customer",
                    value=message.customer.id,
                    display_name=message.customer.name,
                    email=message.customer.email.strip().lower(),
                    phone=message.customer.phone.strip(),
                    scoped_to_account=True,
                ),
                subject=message.subject,
                body_text=message.text,
                visible_text=message.text,
                body_html=message.html,
                order_reference=message.order_number,
                sent_at=message.sent_at,
                language=message.language,
                attachments=[_attachment(item) for item in message.attachments],
            )
        ]


def _attachment(item) -> InboundAttachment:
    try:
        content = base64.b64decode(item.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise ParseError(f"attachment {item.filename!r} is not valid base64") from None
    return InboundAttachment(filename=item.filename, content_type=item.content_type, content=content)


def _describe(exc: ValidationError) -> str:
    problems = [f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()[:5]]
    return "invalid generic event: " + "; ".join(problems)
