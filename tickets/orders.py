"""Orders from shops and marketplaces: the one way every order source (Shopify and WooCommerce
webhooks, the generic webhook, API back-fills and reconciliation) records an order, and the
links between orders and tickets.

`upsert_order` is idempotent on (store, marketplace, external id): a webhook retry, a replay and
the reconciliation's look-up of the same order all end in one row. A delivery older than the
stored state (Shopify and WooCommerce deliver out of order) never overwrites it; shipments and
refunds, which only ever accumulate, are merged whatever their order of arrival.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from channels_ingest.base import CustomerHandle, NormalizedOrder
from tickets.models import (
    ChannelAccount,
    Customer,
    Order,
    OrderLine,
    Refund,
    Shipment,
    Ticket,
    TicketEvent,
)

# Statuses after which a shipment no longer moves the order back to "shipped".
_BEYOND_SHIPPING = {
    Order.Status.DELIVERED, Order.Status.CANCELLED, Order.Status.REFUNDED, Order.Status.RETURNED,
}
_BEFORE_SHIPPING = {Order.Status.PENDING, Order.Status.PAID, Order.Status.PROCESSING}


@dataclass
class OrderOutcome:
    order_id: int
    created: bool = False
    stale: bool = False  # an older delivery: only shipments and refunds were merged
    linked_tickets: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        result = {"order_id": self.order_id}
        if self.created:
            result["created_order"] = True
        if self.stale:
            result["stale"] = True
        if self.linked_tickets:
            result["linked_tickets"] = self.linked_tickets
        return result


def _money(value: Decimal | None) -> Decimal:
    return (value if value is not None else Decimal("0")).quantize(Decimal("0.01"))


def resolve_order_customer(account: ChannelAccount, handle: CustomerHandle | None) -> Customer | None:
    """The order's customer through their channel identities, as inbound messages resolve theirs:
    the shop's customer id (scoped to the shop) or else the email address, so a buyer who wrote
    by email before ordering is one person. None for an order without any buyer handle."""
    from tickets.ingest import resolve_customer

    if handle is None:
        return None
    if not handle.value and handle.email:
        handle = CustomerHandle(
            kind="email", value=handle.email.strip().lower(), display_name=handle.display_name,
            email=handle.email.strip().lower(), phone=handle.phone,
        )
    if not handle.value:
        return None
    return resolve_customer(account=account, handle=handle)


def record_customer(*, account: ChannelAccount, handle: CustomerHandle) -> Customer | None:
    """A customer created or updated on the shop: find or create them (one person across
    channels), so their first message already shows their orders."""
    with transaction.atomic():
        return resolve_order_customer(account, handle)


def upsert_order(
    *, account: ChannelAccount, normalized: NormalizedOrder, event=None
) -> OrderOutcome:
    """Create or update the order `normalized` describes, with its lines, shipments and refunds,
    all or nothing. Safe to call any number of times with the same data, in any order."""
    with transaction.atomic():
        order, created = _locked_order(account, normalized)
        fresh = created or _is_newer(normalized, order)
        changed: set[str] = set()
        if normalized.customer is not None and (fresh or order.customer_id is None):
            customer = resolve_order_customer(account, normalized.customer)
            if customer is not None and customer.pk != order.customer_id:
                order.customer = customer
                changed.add("customer")
        if order.channel_account_id is None:
            order.channel_account = account
            changed.add("channel_account")
        if fresh and (normalized.is_complete or created):
            changed |= _apply_order_fields(order, normalized)
            if normalized.lines is not None:
                _replace_lines(order, normalized)
        shipments_added = _merge_shipments(order, normalized)
        refunds_added = _merge_refunds(order, normalized)
        if normalized.status is None or not fresh:
            changed |= _derive_status(order, shipments_added, refunds_added)
        if changed:
            order.save(update_fields=[*sorted(changed), "updated_at"])
        outcome = OrderOutcome(order_id=order.pk, created=created, stale=not fresh)
        if created:
            outcome.linked_tickets = link_order_to_waiting_tickets(order)
    return outcome


def _locked_order(account: ChannelAccount, normalized: NormalizedOrder) -> tuple[Order, bool]:
    key = {"store": account.store, "marketplace": normalized.marketplace, "external_id": normalized.external_id}
    order = Order.objects.select_for_update().filter(**key).first()
    if order is not None:
        return order, False
    try:
        with transaction.atomic():
            order = Order.objects.create(
                **key,
                channel_account=account,
                number=(normalized.number or normalized.external_id)[:100],
                currency=(normalized.currency or account.store.currency)[:3],
                placed_at=normalized.placed_at or timezone.now(),
            )
        return order, True
    except IntegrityError:
        # Another worker created it a moment ago: take theirs, under the lock.
        return Order.objects.select_for_update().get(**key), False


def _is_newer(normalized: NormalizedOrder, order: Order) -> bool:
    if normalized.updated_at is None or order.provider_updated_at is None:
        return True
    return normalized.updated_at >= order.provider_updated_at


def _apply_order_fields(order: Order, normalized: NormalizedOrder) -> set[str]:
    changed: set[str] = set()

    def put(name: str, value) -> None:
        if value is not None and getattr(order, name) != value:
            setattr(order, name, value)
            changed.add(name)

    put("number", normalized.number[:100] or None)
    put("status", normalized.status)
    put("payment_status", normalized.payment_status[:30] or None)
    put("currency", normalized.currency[:3].upper() or None)
    for name in ("subtotal", "shipping_total", "tax_total", "total"):
        value = getattr(normalized, name)
        put(name, _money(value) if value is not None else None)
    put("placed_at", normalized.placed_at)
    if normalized.is_complete:
        # A fulfillment's or refund's time says nothing of the order's other fields: the order
        # delivery that follows must not look stale against it.
        put("provider_updated_at", normalized.updated_at)
    put("billing_address", normalized.billing_address)
    put("shipping_address", normalized.shipping_address)
    return changed


def _replace_lines(order: Order, normalized: NormalizedOrder) -> None:
    """Make the order's lines those of the delivery. Lines keep their rows (matched on the
    shop's line id), so a refund form open on the ticket page still names the right ones."""
    existing = {line.external_id: line for line in order.lines.all() if line.external_id}
    keep: set[int] = set()
    new_lines = []
    for item in normalized.lines or ():
        values = {
            "sku": item.sku[:100],
            "title": item.title[:500],
            "quantity": max(int(item.quantity), 0),
            "unit_price": _money(item.unit_price),
            "total": _money(item.total),
        }
        line = existing.get(item.external_id[:100])
        if line is None:
            new_lines.append(OrderLine(order=order, external_id=item.external_id[:100], **values))
            continue
        keep.add(line.pk)
        if any(getattr(line, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(line, name, value)
            line.save(update_fields=list(values))
    order.lines.exclude(pk__in=keep).delete()
    OrderLine.objects.bulk_create(new_lines)


def _merge_shipments(order: Order, normalized: NormalizedOrder) -> int:
    added = 0
    for item in normalized.shipments:
        values = {
            "carrier": item.carrier[:100],
            "tracking_number": item.tracking_number[:100],
            "tracking_url": item.tracking_url[:500],
            "status": item.status,
            "shipped_at": item.shipped_at,
        }
        if item.external_id:
            _, created = Shipment.objects.update_or_create(order=order, external_id=item.external_id[:100], defaults=values)
        else:
            _, created = Shipment.objects.get_or_create(
                order=order, tracking_number=values["tracking_number"], defaults=values
            )
        added += int(created)
    return added


def _merge_refunds(order: Order, normalized: NormalizedOrder) -> int:
    added = 0
    for item in normalized.refunds:
        values = {
            "amount": _money(item.amount),
            "currency": (item.currency or order.currency)[:3],
            "reason": item.reason,
            "lines": item.lines,
            "created_at": item.created_at or timezone.now(),
        }
        _, created = Refund.objects.update_or_create(order=order, external_id=item.external_id[:100], defaults=values)
        added += int(created)
    return added


def _derive_status(order: Order, shipments_added: int, refunds_added: int) -> set[str]:
    """The status a partial event implies when the provider did not state one."""
    status = order.status
    if status == Order.Status.CANCELLED:
        return set()  # a cancelled order stays so; its refunds and shipments show beside it
    if refunds_added:
        refunded = order.refunds.aggregate(total=Sum("amount"))["total"] or Decimal("0")
        if order.total > 0 and refunded >= order.total:
            status = Order.Status.REFUNDED
        elif refunded > 0 and status != Order.Status.REFUNDED:
            status = Order.Status.PARTIALLY_REFUNDED
    elif shipments_added and status in _BEFORE_SHIPPING | {Order.Status.PARTIALLY_SHIPPED}:
        status = Order.Status.SHIPPED
    if status != order.status and not (order.status in _BEYOND_SHIPPING and status == Order.Status.SHIPPED):
        order.status = status
        return {"status"}
    return set()


# --- Orders and tickets ---------------------------------------------------------------------


def order_number_variants(order: Order) -> set[str]:
    """How a customer may write this order's number: "#1001", "1001", the shop's long id."""
    variants = {order.number, order.external_id}
    variants |= {order.number.lstrip("#")}
    return {value for value in variants if len(value) >= 3}


def _mentions(text: str, value: str) -> bool:
    # Whole-token match: order 1001 is not mentioned by "10012" nor by a phone number containing it.
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text) is not None


def orders_mentioned(*, customer: Customer, store, text: str, limit: int = 50) -> list[Order]:
    """The customer's orders in this store whose number or id appears in `text` (a message's
    subject and body). The customer's orders come through their identities, so only their own
    orders can be linked by what they write."""
    if not text:
        return []
    candidates = Order.objects.filter(store=store, customer=customer).order_by("-placed_at")[:limit]
    return [order for order in candidates if any(_mentions(text, value) for value in order_number_variants(order))]


def link_order_to_waiting_tickets(order: Order) -> list[int]:
    """A new order's buyer may have written about it before the shop told us of it: link it to
    their open tickets whose messages mention its number."""
    from tickets import actions

    if order.customer_id is None:
        return []
    linked = []
    variants = order_number_variants(order)
    tickets = Ticket.objects.open().filter(customer_id=order.customer_id, store_id=order.store_id)[:20]
    for ticket in tickets:
        texts = ticket.messages.filter(direction="inbound").values_list("subject", "body_text")[:50]
        text = "\n".join(f"{subject}\n{body}" for subject, body in texts) + "\n" + ticket.subject
        if any(_mentions(text, value) for value in variants):
            if actions.link_order(ticket=ticket, order=order):
                linked.append(ticket.pk)
    return linked


def find_order_for_link(*, ticket: Ticket, reference: str) -> Order | None:
    """The order an agent typed (its number, with or without "#", or the shop's id), in the
    ticket's store."""
    reference = reference.strip()
    if not reference:
        return None
    candidates = {reference, reference.lstrip("#"), "#" + reference.lstrip("#")}
    return (
        Order.objects.filter(store_id=ticket.store_id)
        .filter(Q(number__in=candidates) | Q(external_id__in=candidates))
        .order_by("-placed_at")
        .first()
    )


def unlink_order(*, ticket: Ticket, order: Order, actor=None) -> bool:
    """Remove an order from a ticket; returns False when it was not linked."""
    with transaction.atomic():
        if not ticket.orders.filter(pk=order.pk).exists():
            return False
        ticket.orders.remove(order)
        TicketEvent.objects.create(
            ticket=ticket, kind=TicketEvent.Kind.ORDER_UNLINKED, actor=actor,
            data={"order_id": order.pk, "number": order.number},
        )
    return True


def customer_other_orders(
    customer: Customer | None, *, exclude: list[int] | None = None, limit: int = 10,
    store_ids: frozenset[int] | None = None,
) -> list[Order]:
    """The customer's other orders, newest first, for the ticket page: one indexed query on
    (customer, placed_at); with `store_ids` (tickets.access), only those stores' orders. Their
    lifetime value is in the customer card (metrics.customer_value)."""
    if customer is None:
        return []
    orders = Order.objects.filter(customer=customer)
    if store_ids is not None:
        orders = orders.filter(store_id__in=store_ids)
    return list(orders.exclude(pk__in=exclude or []).order_by("-placed_at")[:limit])


def address_lines(address: dict | None) -> list[str]:
    """A stored address (Shopify's field names, which every adapter stores) as display lines."""
    if not address:
        return []

    def join(*names: str, separator: str = ", ") -> str:
        return separator.join(str(address[name]).strip() for name in names if str(address.get(name) or "").strip())

    lines = [
        join("name", "company"),
        join("address1", "address2"),
        join("zip", "city", separator=" "),
        join("province", "country_code") or join("country"),
        join("phone"),
    ]
    return [line for line in lines if line]


# --- The ticket page's order panel ---------------------------------------------------------------
#
# Two queries whatever the number of orders, lines, shipments and refunds:
# 1. the ticket's linked orders (through the ticket-order link's index), with their store and
#    account joined and their lines, shipments and refunds aggregated as JSON by index look-ups
#    on each child table's order_id;
# 2. the customer's lifetime spend per currency and their other orders, newest first (both on
#    the (customer, placed_at) index).
# JSON numbers are read as Decimal and never pass through a float.

OTHER_ORDERS_LIMIT = 10


@dataclass(frozen=True)
class ShipmentView:
    shipment: Shipment
    tracking_href: str  # the tracking link if it is http(s), else ""


@dataclass(frozen=True)
class OrderView:
    order: Order
    lines: list
    shipments: list[ShipmentView]
    refunds: list = ()
    actions: tuple[str, ...] = ()  # order actions the shop allows from here (tickets.order_actions)
    shipping_address: list[str] = ()


@dataclass(frozen=True)
class LifetimeSpend:
    """What the customer spent in one currency: every order but cancelled and fully refunded ones
    (the rule of metrics.customer_value)."""

    currency: str
    total: Decimal
    order_count: int


@dataclass(frozen=True)
class OrderPanel:
    linked: list[OrderView]
    other_orders: list[Order]
    lifetime_spend: list[LifetimeSpend]


def safe_http_url(url: str) -> str:
    """The URL if it is http(s), else "": tracking links come from marketplaces' payloads, and a
    javascript: link must never become clickable in an agent's session."""
    from urllib.parse import urlsplit

    return url if urlsplit(url or "").scheme in ("http", "https") else ""


def _json_children(table: str, columns: str, order_by: str) -> str:
    return (
        f"(SELECT coalesce(json_agg(json_build_object({columns}) ORDER BY {order_by}), '[]')::text "
        f"FROM {table} child WHERE child.order_id = tickets_order.id)"
    )


_LINES_SQL = _json_children(
    "tickets_orderline",
    "'id', child.id, 'external_id', child.external_id, 'sku', child.sku, 'title', child.title, "
    "'quantity', child.quantity, 'unit_price', child.unit_price, 'total', child.total",
    "child.id",
)
_SHIPMENTS_SQL = _json_children(
    "tickets_shipment",
    "'id', child.id, 'external_id', child.external_id, 'carrier', child.carrier, "
    "'tracking_number', child.tracking_number, 'tracking_url', child.tracking_url, 'status', child.status, "
    "'shipped_at', child.shipped_at, 'delivered_at', child.delivered_at",
    "child.id",
)
_REFUNDS_SQL = _json_children(
    "tickets_refund",
    "'id', child.id, 'external_id', child.external_id, 'amount', child.amount, 'currency', child.currency, "
    "'reason', child.reason, 'lines', child.lines, 'created_at', child.created_at",
    "child.created_at, child.id",
)


def _load_json(text: str | None) -> list[dict]:
    import json

    return json.loads(text or "[]", parse_float=Decimal)


def _money_field(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _datetime_field(value):
    from django.utils.dateparse import parse_datetime

    return parse_datetime(value) if value else None


def _children(order: Order, lines: str, shipments: str, refunds: str) -> tuple[list, list, list]:
    line_rows = [
        OrderLine(order=order, **{**row, "unit_price": _money_field(row["unit_price"]), "total": _money_field(row["total"])})
        for row in _load_json(lines)
    ]
    shipment_rows = [
        Shipment(order=order, **{**row, "shipped_at": _datetime_field(row["shipped_at"]),
                                 "delivered_at": _datetime_field(row["delivered_at"])})
        for row in _load_json(shipments)
    ]
    refund_rows = [
        Refund(order=order, **{**row, "amount": _money_field(row["amount"]),
                               "created_at": _datetime_field(row["created_at"])})
        for row in _load_json(refunds)
    ]
    return line_rows, shipment_rows, refund_rows


def linked_order_views(ticket: Ticket) -> list[OrderView]:
    """The ticket's linked orders, newest first, with everything the panel shows: one query."""
    from django.db.models.expressions import RawSQL

    from tickets.order_actions import available_actions

    rows = (
        Order.objects.filter(tickets=ticket)
        .select_related("store", "channel_account")
        .annotate(
            lines_json=RawSQL(_LINES_SQL, []),
            shipments_json=RawSQL(_SHIPMENTS_SQL, []),
            refunds_json=RawSQL(_REFUNDS_SQL, []),
        )
        .order_by("-placed_at", "-pk")
    )
    views = []
    for order in rows:
        lines, shipments, refunds = _children(order, order.lines_json, order.shipments_json, order.refunds_json)
        views.append(OrderView(
            order=order,
            lines=lines,
            shipments=[ShipmentView(shipment, safe_http_url(shipment.tracking_url)) for shipment in shipments],
            refunds=refunds,
            actions=available_actions(order),
            shipping_address=address_lines(order.shipping_address),
        ))
    return views


def _customer_orders_and_spend(
    customer_id: int | None, ticket: Ticket, limit: int, store_ids: frozenset[int] | None = None,
) -> tuple[list[Order], list[LifetimeSpend]]:
    """One query: the customer's lifetime spend per currency (as JSON, on every row, and on a row
    of its own when there is no other order) and up to `limit` orders not linked to the ticket;
    with `store_ids` (tickets.access), only orders of those stores."""
    if customer_id is None:
        return [], []
    stores = None if store_ids is None else sorted(store_ids)
    from metrics.customer_value import EXCLUDED_STATUSES

    sql = """
        SELECT spend.summary, other.*
        FROM (
            SELECT coalesce(json_agg(json_build_object('currency', s.currency, 'total', s.total, 'count', s.n)
                                     ORDER BY s.total DESC, s.currency), '[]')::text AS summary
            FROM (SELECT currency, sum(total) AS total, count(*) AS n FROM tickets_order
                  WHERE customer_id = %s AND NOT (status = ANY(%s))
                    AND (%s::bigint[] IS NULL OR store_id = ANY(%s::bigint[])) GROUP BY currency) s
        ) spend
        LEFT JOIN LATERAL (
            SELECT o.* FROM tickets_order o
            WHERE o.customer_id = %s
              AND (%s::bigint[] IS NULL OR o.store_id = ANY(%s::bigint[]))
              AND NOT EXISTS (SELECT 1 FROM tickets_ticket_orders link
                              WHERE link.ticket_id = %s AND link.order_id = o.id)
            ORDER BY o.placed_at DESC, o.id DESC
            LIMIT %s
        ) other ON true
    """
    params = [customer_id, [str(status) for status in EXCLUDED_STATUSES], stores, stores, customer_id, stores, stores,
              ticket.pk, limit]
    rows = list(Order.objects.raw(sql, params))
    spend = [
        LifetimeSpend(currency=item["currency"], total=_money_field(item["total"]), order_count=int(item["count"]))
        for item in _load_json(rows[0].summary if rows else "[]")
    ]
    return [row for row in rows if row.pk is not None], spend


def order_panel(
    ticket: Ticket, *, other_limit: int = OTHER_ORDERS_LIMIT, store_ids: frozenset[int] | None = None,
) -> OrderPanel:
    """Everything the ticket page shows about orders, in two indexed queries whatever the number
    of orders: the linked orders (lines, shipments with safe tracking links, refunds, the actions
    the shop allows, the shipping address), the customer's other orders, newest first, and their
    lifetime spend per currency. `store_ids` (the agent's, `tickets.access.visible_store_ids`)
    keeps other stores' orders out of the other orders and the spend; None: every store."""
    linked = linked_order_views(ticket)
    others, spend = _customer_orders_and_spend(ticket.customer_id, ticket, other_limit, store_ids)
    return OrderPanel(linked=linked, other_orders=others, lifetime_spend=spend)
