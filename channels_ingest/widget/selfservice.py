"""Self-service "where is my order" for the shop's chat widget.

A visitor proves they may see an order by giving two things: its number (as the shop shows it,
"#1001" or "1001", or the marketplace's id) and either the email address or the shipping postcode
on the order. Nothing about an order is shown unless both match; a wrong proof and an unknown
number get the same answer, so the widget cannot be used to learn which order numbers exist.

Guessing is rate-limited in Redis, counting failed look-ups (a success costs nothing):
- per visitor (their widget key): a visitor cannot try many postcodes or numbers;
- per order number in the store: many visitors together cannot try every postcode of one order
  (a postcode has few possible values, so this cap is what protects an order);
- per store: a crowd of visitors cannot sweep a store's order numbers.
Each attempt reserves a slot in all three counters atomically before the database is read, so
parallel requests cannot overshoot a limit; a success gives its slots back. When a limit is
reached the answer is `RateLimited` with the seconds until the oldest window ends, and no look-up
is made, even with the right proof.

What an answer shows: the order number and date, the status, item titles and quantities, and
each shipment's carrier, status, tracking number and http(s) tracking link. Never the address,
the customer's name or contact details, nor prices: the proof may be a postcode, which
neighbours and family share and which has few values, so the answer holds only what a parcel
label or a tracking page already tells anyone who holds the parcel. What an order cost, and where
exactly it goes, stay with the signed-in shop and the agents.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Q

from tickets.models import ChannelIdentity, Order, Shipment, Store

# Failed look-ups allowed per window, and the window in seconds. Settings may override any of
# them with HELPDESK_WIDGET_LOOKUP_LIMITS = {"visitor": (5, 900), ...}.
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "visitor": (5, 15 * 60),
    "order": (10, 60 * 60),
    "store": (300, 15 * 60),
}
# An order number shorter than this is never looked up (see tickets.orders.order_number_variants).
MIN_NUMBER_LENGTH = 3
MAX_INPUT_LENGTH = 200
# A postcode (or address) shorter than this proves nothing, whatever the order holds.
MIN_PROOF_LENGTH = 3


@dataclass(frozen=True)
class OrderItem:
    title: str
    quantity: int


@dataclass(frozen=True)
class ShipmentInfo:
    carrier: str
    status: str  # Shipment.Status value
    status_label: str  # translated in the language active when the answer was made
    tracking_number: str
    tracking_url: str  # "" unless an http(s) link


@dataclass(frozen=True)
class OrderAnswer:
    """What a visitor who proved an order may see. `order` is for the helpdesk's own use (linking
    the order to the ticket on handoff) and is never sent to the visitor: send `as_dict()`."""

    number: str
    placed_on: dt.date  # in the store's time zone
    status: str  # Order.Status value
    status_label: str
    items: tuple[OrderItem, ...]
    shipments: tuple[ShipmentInfo, ...]
    order: Order = field(repr=False, compare=False)
    proof_was_email: bool = False

    def as_dict(self) -> dict:
        """The answer as JSON-ready data for the visitor's browser."""
        return {
            "number": self.number,
            "placed_on": self.placed_on.isoformat(),
            "status": self.status,
            "status_label": str(self.status_label),
            "items": [{"title": item.title, "quantity": item.quantity} for item in self.items],
            "shipments": [
                {
                    "carrier": s.carrier, "status": s.status, "status_label": str(s.status_label),
                    "tracking_number": s.tracking_number, "tracking_url": s.tracking_url,
                }
                for s in self.shipments
            ],
        }


@dataclass(frozen=True)
class RateLimited:
    """Too many failed look-ups: try again after `retry_after` seconds (at least 1)."""

    retry_after: int


def find_order(store: Store, order_number: str, proof: str, *, visitor_key: str) -> OrderAnswer | RateLimited | None:
    """The order of `store` whose number is `order_number` (any of its spellings) and whose email
    or shipping postcode is `proof`; None when there is none (unknown number and wrong proof alike),
    RateLimited when this visitor, this order number or this store has failed too often lately.

    Labels are translated in the active language (wrap the call in `translation.override`).
    One query finds and checks the order; two more read its lines and shipments on success."""
    number = _clean_number(order_number)
    limiter = _Limiter(store_id=store.pk, number_key=_number_key(number), visitor_key=visitor_key)
    blocked = limiter.reserve()
    if blocked is not None:
        return blocked
    order = _matching_order(store, number, proof)
    if order is None:
        return None  # the reserved slots stay spent: this was a failed try
    limiter.release()
    return _answer(order, store, proof_was_email="@" in proof)


# --- Matching --------------------------------------------------------------------------------


def normalize_email(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip().lower()


def normalize_postcode(value: str) -> str:
    """Postcodes compare without case, spaces or dashes: "sw1a 1aa" is "SW1A1AA", "1000-001"
    is "1000001"."""
    text = unicodedata.normalize("NFKC", value or "").upper()
    return re.sub(r"[\s\-\u2010-\u2015.]", "", text)


def _clean_number(value: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value or ""))[:MAX_INPUT_LENGTH]


def _number_key(number: str) -> str:
    """The rate-limit identity of an order number: its spellings ("#1001", "1001") count as one."""
    return number.lstrip("#").upper()


def number_candidates(number: str) -> set[str]:
    """Spellings under which an order may be stored for what the visitor typed (see
    tickets.orders.order_number_variants): with and without "#", as typed and upper-cased
    (marketplace ids such as eBay's and Amazon's are case-insensitive to a buyer)."""
    bare = number.lstrip("#")
    if len(bare) < MIN_NUMBER_LENGTH:
        return set()
    return {number, bare, "#" + bare, bare.upper(), "#" + bare.upper()}


def candidate_orders(store: Store, candidates: set[str]):
    """The store's orders stored under one of `candidates`, with their customer and the
    customer's email addresses, in one query: a bitmap OR of the order_number (number) and
    order_store_external (store, external_id) indexes."""
    return (
        Order.objects.filter(store=store)
        .filter(Q(number__in=candidates) | Q(external_id__in=candidates))
        .select_related("customer")
        .annotate(identity_emails=ArraySubquery(
            ChannelIdentity.objects.filter(customer_id=OuterRef("customer_id"), kind=ChannelIdentity.Kind.EMAIL)
            .values("value")[:20]
        ))
        .order_by("-placed_at")[:5]
    )


def _matching_order(store: Store, number: str, proof: str) -> Order | None:
    candidates = number_candidates(number)
    proof = (proof or "")[:MAX_INPUT_LENGTH]
    email, postcode = normalize_email(proof), normalize_postcode(proof)
    orders = list(candidate_orders(store, candidates)) if candidates else []
    found = None
    # Every candidate value is compared in constant time, and an empty result still compares
    # against a dummy, so the time taken says little about whether the number exists.
    for order in orders or [None]:
        matched = False
        for value in _proof_values(order, email_proof="@" in proof):
            kind, expected = value
            given = email if kind == "email" else postcode
            long_enough = len(given) >= MIN_PROOF_LENGTH and len(expected) >= MIN_PROOF_LENGTH
            matched |= hmac.compare_digest(given.encode(), expected.encode()) and long_enough
        if matched and found is None and order is not None:
            found = order
    return found


def _proof_values(order: Order | None, *, email_proof: bool) -> list[tuple[str, str]]:
    if order is None:
        return [("email" if email_proof else "postcode", "\x00unmatchable")]
    if not email_proof:
        return [("postcode", normalize_postcode(str((order.shipping_address or {}).get("zip") or "")))]
    emails = set(getattr(order, "identity_emails", None) or [])
    if order.customer is not None:
        emails.add(order.customer.email)
    for address in (order.billing_address, order.shipping_address):
        if isinstance(address, dict) and address.get("email"):
            emails.add(str(address["email"]))
    return [("email", normalize_email(value)) for value in sorted(emails) if value]


# --- The answer ------------------------------------------------------------------------------


def safe_tracking_url(url: str) -> str:
    """The link if it is an absolute http(s) URL, else "": tracking links come from marketplaces'
    payloads, and a javascript: or data: link must never become clickable in the widget."""
    url = (url or "").strip()
    if not url or any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return url


def _answer(order: Order, store: Store, *, proof_was_email: bool) -> OrderAnswer:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(store.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    items = tuple(OrderItem(title=line.title, quantity=line.quantity) for line in order.lines.all())
    shipments = tuple(
        ShipmentInfo(
            carrier=shipment.carrier,
            status=shipment.status,
            status_label=str(Shipment.Status(shipment.status).label) if shipment.status in Shipment.Status.values else shipment.status,
            tracking_number=shipment.tracking_number,
            tracking_url=safe_tracking_url(shipment.tracking_url),
        )
        for shipment in order.shipments.all()
    )
    status_label = str(Order.Status(order.status).label) if order.status in Order.Status.values else order.status
    return OrderAnswer(
        number=order.number,
        placed_on=order.placed_at.astimezone(zone).date(),
        status=order.status,
        status_label=status_label,
        items=items,
        shipments=shipments,
        order=order,
        proof_was_email=proof_was_email,
    )


# --- Rate limiting ---------------------------------------------------------------------------

# Reserve one attempt in every counter; if any is then over its limit, give them all back and
# return the longest time left among the exceeded windows. A window starts at its first attempt.
_RESERVE = """
local blocked = 0
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 or redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, tonumber(ARGV[2 * i])) end
end
for i, key in ipairs(KEYS) do
  if counts[i] > tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then ttl = 1 end
    if ttl > blocked then blocked = ttl end
  end
end
if blocked > 0 then
  for i, key in ipairs(KEYS) do redis.call('DECR', key) end
end
return blocked
"""

# A successful look-up gives its slots back (only where the window still runs: a DECR on an
# expired key would create a counter that never expires).
_RELEASE = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0
"""


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def _limits() -> dict[str, tuple[int, int]]:
    return {**DEFAULT_LIMITS, **getattr(settings, "HELPDESK_WIDGET_LOOKUP_LIMITS", {})}


def _key_prefix() -> str:
    # The channel layer's prefix, as the widget's other counters use: installations sharing one
    # Redis server, and test runs side by side, keep apart.
    layer = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
    return f"{layer.get('prefix') or 'helpdesk'}:widget-lookup"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class _Limiter:
    def __init__(self, *, store_id: int, number_key: str, visitor_key: str) -> None:
        prefix = _key_prefix()
        limits = _limits()
        self.keys = [
            f"{prefix}:visitor:{_digest(visitor_key or '')}",
            f"{prefix}:order:{store_id}:{_digest(number_key)}",
            f"{prefix}:store:{store_id}",
        ]
        self.args: list[int] = []
        for name in ("visitor", "order", "store"):
            count, window = limits[name]
            self.args += [int(count), max(int(window), 1)]
        self.client = _client(settings.REDIS_URL)

    def reserve(self) -> RateLimited | None:
        seconds = int(self.client.eval(_RESERVE, len(self.keys), *self.keys, *self.args))
        return RateLimited(retry_after=seconds) if seconds > 0 else None

    def release(self) -> None:
        self.client.eval(_RELEASE, len(self.keys), *self.keys)
