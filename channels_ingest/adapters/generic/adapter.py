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
from decimal import Decimal

from pydantic import ValidationError

from channels_ingest.adapters.generic.schemas import GenericEvent
from channels_ingest.base import (
    Adapter,
    CustomerHandle,
    InboundAttachment,
    NormalizedMessage,
    NormalizedOrder,
    NormalizedOrderLine,
    NormalizedRefund,
    NormalizedShipment,
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
    SUPPORTED_EVENTS = ("message.created", "order.upserted")
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
            # Amounts are read as Decimal and ids as exact ints: nothing passes through a float.
            raw = json.loads(event.body_bytes, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"invalid generic event: the body is not JSON ({exc})") from None
        try:
            parsed = GenericEvent.model_validate(raw)
        except ValidationError as exc:
            raise ParseError(_describe(exc)) from None
        if parsed.type == "order.upserted":
            if parsed.order is None:
                raise ParseError("invalid generic event: order.upserted without an order")
            return [_order(parsed.order, marketplace=event.account.channel or "marketplace")]
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


def _order(order, *, marketplace: str) -> NormalizedOrder:
    customer = None
    if order.customer is not None:
        customer = CustomerHandle(
            kind="shop_customer", value=order.customer.id, display_name=order.customer.name,
            email=order.customer.email.strip().lower(), phone=order.customer.phone.strip(), scoped_to_account=True,
        )
    return NormalizedOrder(
        marketplace=marketplace,
        external_id=order.id,
        number=order.number or order.id,
        customer=customer,
        status=order.status,
        payment_status=order.payment_status,
        currency=order.currency.upper(),
        subtotal=order.subtotal,
        shipping_total=order.shipping_total,
        tax_total=order.tax_total,
        total=order.total,
        placed_at=order.placed_at,
        updated_at=order.updated_at,
        billing_address=order.billing_address,
        shipping_address=order.shipping_address,
        lines=[
            NormalizedOrderLine(external_id=line.id, title=line.title, quantity=line.quantity, sku=line.sku,
                                unit_price=line.unit_price, total=line.total)
            for line in order.lines
        ],
        shipments=[
            NormalizedShipment(external_id=item.id, carrier=item.carrier, tracking_number=item.tracking_number,
                               tracking_url=item.tracking_url, status=item.status, shipped_at=item.shipped_at)
            for item in order.shipments
        ],
        refunds=[
            NormalizedRefund(external_id=item.id, amount=item.amount, reason=item.reason, created_at=item.created_at)
            for item in order.refunds
        ],
    )


def _attachment(item) -> InboundAttachment:
    try:
        content = base64.b64decode(item.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise ParseError(f"attachment {item.filename!r} is not valid base64") from None
    return InboundAttachment(filename=item.filename, content_type=item.content_type, content=content)


def _describe(exc: ValidationError) -> str:
    problems = [f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()[:5]]
    return "invalid generic event: " + "; ".join(problems)
