"""What every channel adapter speaks: the normalised inbound message, the adapter interface and
the errors that tell the pipeline what to do.

An adapter turns a provider's raw event into `NormalizedMessage`s; nothing after that step knows
which provider sent the data. See `channels_ingest/registry.py` for the list of adapters and
CONTRIBUTING notes in the README for adding one.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from channels_ingest.models import InboundEvent
    from tickets.models import ChannelAccount, Message


# --- Errors ----------------------------------------------------------------------------------


class SignatureInvalid(Exception):
    """The request is not from the provider: missing or wrong signature. Answered 401, not stored."""


class MalformedRequest(Exception):
    """The request cannot be an event of this provider at all (e.g. no event id where the provider
    always sends one). Answered 400, not stored."""


class ParseError(Exception):
    """A well-signed event we cannot understand. Permanent: the event is kept as failed with this
    error, shown to admins, and can be re-processed after a fix."""


class TransientError(Exception):
    """A fault that may pass (network, provider 5xx, lock timeout): the task retries with backoff."""


class ChannelError(Exception):
    """Sending failed. `permanent` says whether retrying can help (a rejected address cannot; a
    timeout can)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


# --- Normalised data -------------------------------------------------------------------------


@dataclass
class CustomerHandle:
    """How the customer is reached on this channel: a ChannelIdentity kind and its normalised value.

    `scoped_to_account` is True for page-scoped ids (Messenger PSIDs, Instagram ids), which are
    unique per connected account only.
    """

    kind: str
    value: str
    display_name: str = ""
    email: str = ""
    phone: str = ""
    scoped_to_account: bool = False


@dataclass
class InboundAttachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""  # for inline images referenced as cid:<content_id> in the HTML
    inline: bool = False


@dataclass
class NormalizedMessage:
    """One message from a customer, whatever the channel.

    - `external_id` is the provider's message id (an email's Message-ID); with the account it is
      unique, so a second delivery is recognised.
    - `thread_key` is the provider's conversation id, when it has one.
    - `references` are earlier message ids this one answers (email In-Reply-To and References).
    - `body_text` is the full text; `visible_text` the new part without quoted history (for display).
    - `body_html` is the provider's HTML as received; it is sanitised when stored.
    - `is_auto_reply` marks auto-replies, out-of-office and bounces: they never open a ticket and
      never trigger an automatic answer.
    """

    channel: str
    external_id: str
    customer: CustomerHandle
    body_text: str = ""
    visible_text: str = ""
    body_html: str = ""
    subject: str = ""
    thread_key: str = ""
    references: list[str] = field(default_factory=list)
    sent_at: datetime | None = None
    attachments: list[InboundAttachment] = field(default_factory=list)
    order_reference: str = ""
    marketplace: str = ""
    language: str = ""
    is_auto_reply: bool = False
    auto_reply_reason: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class NormalizedOrderLine:
    external_id: str
    title: str
    quantity: int = 1
    sku: str = ""
    unit_price: Decimal = Decimal("0")
    total: Decimal = Decimal("0")


@dataclass
class NormalizedShipment:
    """A shipment (Shopify fulfillment); merged into the order by `external_id`."""

    external_id: str
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    status: str = "pending"  # a tickets.models.Shipment.Status value
    shipped_at: datetime | None = None


@dataclass
class NormalizedRefund:
    """Money given back; merged into the order by `external_id`. `lines` are
    {"line_external_id", "quantity", "amount"} mappings."""

    external_id: str
    amount: Decimal
    currency: str = ""
    reason: str = ""
    created_at: datetime | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class NormalizedOrder:
    """An order from a shop or marketplace, whatever the provider; `tickets.orders.upsert_order`
    stores it. Money is Decimal and ids are text: nothing passes through a float.

    A full order (webhook order body, API look-up) sets `is_complete`; a partial one (a
    fulfillment or a refund on its own) only adds its shipments and refunds to the order. Fields
    left None are not changed. `updated_at` is the provider's modification time: a delivery older
    than what is stored never overwrites the order's state.
    """

    marketplace: str
    external_id: str
    number: str = ""
    is_complete: bool = True
    customer: CustomerHandle | None = None
    status: str | None = None  # a tickets.models.Order.Status value
    payment_status: str = ""
    currency: str = ""
    subtotal: Decimal | None = None
    shipping_total: Decimal | None = None
    tax_total: Decimal | None = None
    total: Decimal | None = None
    placed_at: datetime | None = None
    updated_at: datetime | None = None
    billing_address: dict[str, Any] | None = None
    shipping_address: dict[str, Any] | None = None
    lines: list[NormalizedOrderLine] | None = None
    shipments: list[NormalizedShipment] = field(default_factory=list)
    refunds: list[NormalizedRefund] = field(default_factory=list)


@dataclass
class CustomerProfile:
    """A customer record created or updated on a shop (no message, no order)."""

    customer: CustomerHandle


@dataclass
class PrivacyRequest:
    """A data-protection request forwarded by a platform (Shopify's mandatory privacy webhooks).

    kind: "data_request" (export the customer's data), "customer_redact" (erase it) or
    "shop_redact" (erase everything of the shop)."""

    kind: str
    customer_external_id: str = ""
    email: str = ""
    phone: str = ""
    order_external_ids: list[str] = field(default_factory=list)
    request_id: str = ""


@dataclass
class Skipped:
    """A well-formed event that carries nothing to store, and why (a webhook ping, an order note)."""

    reason: str


@dataclass
class DeliveryStatus:
    """What the provider tells us about a message we sent: `state` is a Message.DeliveryState value
    (sent, delivered, read, failed). The message is found by the provider's id (`external_id`); a
    receipt that only says "everything up to this time" (Messenger's read and delivery watermarks)
    names the customer in `recipient` and the time in `watermark` instead."""

    state: str
    external_id: str = ""
    reason: str = ""
    error_code: str = ""
    at: datetime | None = None
    recipient: CustomerHandle | None = None
    watermark: datetime | None = None


@dataclass
class MessageReaction:
    """The customer reacted to a message (an emoji on it), or took the reaction back (`removed`).
    Recorded on that message, never a new message."""

    target_external_id: str
    emoji: str = ""
    removed: bool = False
    customer: CustomerHandle | None = None
    at: datetime | None = None


@dataclass
class MessageUnsent:
    """The customer deleted ("unsent") a message they had sent."""

    external_id: str
    at: datetime | None = None


@dataclass
class OutboundEcho:
    """A copy of a message the business account itself sent (Meta's echoes): ours when we sent it
    from the helpdesk; otherwise sent from the provider's own app, and recorded as a reply."""

    external_id: str
    recipient: CustomerHandle
    text: str = ""
    sent_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptOut:
    """The customer asked to receive no more messages on this channel (SMS STOP), or asked again
    to receive them (START, `opted_out` False)."""

    customer: CustomerHandle
    opted_out: bool = True
    reason: str = ""


@dataclass
class SendResult:
    """What the provider answered to a reply we sent."""

    external_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


# --- The adapter interface ---------------------------------------------------------------------


class Adapter:
    """Base class of every provider adapter. Subclasses set `slug` and `channel` and override what
    their provider needs; the defaults describe a provider that only sends webhooks."""

    slug: ClassVar[str]
    channel: ClassVar[str]
    # Event types this adapter understands; others are stored and marked ignored.
    SUPPORTED_EVENTS: ClassVar[tuple[str, ...]] = ()
    # Request headers kept with the raw event (lower-case names); secrets never belong here.
    KEPT_HEADERS: ClassVar[tuple[str, ...]] = ("content-type", "user-agent")

    def handshake(self, request: HttpRequest, account: ChannelAccount) -> HttpResponse | None:
        """Answer a GET set-up handshake (Meta's hub.challenge, eBay's challenge_code). None: 405."""
        return None

    def verify(self, request: HttpRequest, account: ChannelAccount) -> None:
        """Raise SignatureInvalid unless the raw request is authentic. Must use a constant-time
        comparison. Runs before anything is stored."""
        raise NotImplementedError

    def event_id(self, request: HttpRequest, account: ChannelAccount) -> str:
        """The provider's id of this delivery, so that a replay is stored once. Defaults to the
        SHA-256 of the body: a byte-identical replay is the same event."""
        return "sha256:" + hashlib.sha256(request.body).hexdigest()

    def parse(self, event: InboundEvent) -> list[NormalizedMessage]:
        """Turn a stored raw event into normalised messages (shop adapters may also return
        NormalizedOrder, CustomerProfile, PrivacyRequest and Skipped items). Raise ParseError when the event cannot
        be understood, TransientError when trying again may help. An empty list means the event
        carries nothing to thread (a receipt, an unsupported type): it is marked ignored."""
        raise NotImplementedError

    def send_reply(self, message: Message) -> SendResult:
        """Send an outbound message on this channel. Raise ChannelError on failure."""
        raise ChannelError(f"{self.slug} cannot send replies", permanent=True)


def constant_time_equals(expected: str | bytes, given: str | bytes | None) -> bool:
    if given is None:
        return False
    if isinstance(expected, str):
        expected = expected.encode()
    if isinstance(given, str):
        given = given.encode()
    return hmac.compare_digest(expected, given)


def hmac_sha256_hex(secret: str | bytes, body: bytes) -> str:
    if isinstance(secret, str):
        secret = secret.encode()
    return hmac.new(secret, body, hashlib.sha256).hexdigest()
