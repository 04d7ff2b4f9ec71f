"""Order actions an agent takes from a ticket, carried out by the shop's API: refund (whole order
or chosen lines), cancel, add a note.

Each action calls the provider first (never inside a database transaction: a slow shop must not
hold locks), then records the outcome on the ticket's timeline (TicketEvent "order_action"),
success or the provider's error, and brings the stored order up to date from the provider's
answer. The page and the API ask for the agent's confirmation before calling these.

What each shop allows:
- Shopify: refund (calculate, then create: https://shopify.dev/docs/api/admin-rest/latest/resources/refund),
  cancel (POST /orders/<id>/cancel.json), note (the order's `note`, PUT /orders/<id>.json).
- WooCommerce: refund (POST /orders/<id>/refunds), note (POST /orders/<id>/notes).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from channels_ingest.base import ChannelError, NormalizedOrder, NormalizedRefund
from tickets.models import ChannelAccount, Order, Ticket, TicketEvent

ACTIONS_BY_MARKETPLACE = {
    "shopify": ("refund", "cancel", "note"),
    "woocommerce": ("refund", "note"),
}


class OrderActionNotAllowed(ValueError):
    """The action does not exist for this order's shop, or its input is wrong."""


@dataclass
class OrderActionResult:
    ok: bool
    action: str
    message: str  # the provider's answer or error, for the agent
    event: TicketEvent
    answer: Any = None


def available_actions(order: Order) -> tuple[str, ...]:
    if order.channel_account_id is None or order.channel_account.provider != order.marketplace:
        return ()
    return ACTIONS_BY_MARKETPLACE.get(order.marketplace, ())


def refundable_amount(order: Order) -> Decimal:
    refunded = order.refunds.aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return max(order.total - refunded, Decimal("0"))


def _check(order: Order, action: str, ticket: Ticket) -> None:
    if action not in available_actions(order):
        raise OrderActionNotAllowed(_("This shop does not allow that action on its orders from here."))
    # Read now, not from a cached account: an admin may have paused it a moment ago.
    if ChannelAccount.objects.filter(pk=order.channel_account_id, status=ChannelAccount.Status.PAUSED).exists():
        raise OrderActionNotAllowed(_("The shop's channel account is paused: resume it on the Channels page first."))
    if not ticket.orders.filter(pk=order.pk).exists():
        raise OrderActionNotAllowed(_("The order is not linked to this ticket."))


def _record(ticket: Ticket, order: Order, actor, action: str, *, ok: bool, message: str, details: dict) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket, kind=TicketEvent.Kind.ORDER_ACTION, actor=actor,
        data={"action": action, "order_id": order.pk, "number": order.number, "ok": ok, "message": message[:2000],
              **details},
    )


def _run(ticket: Ticket, order: Order, actor, action: str, details: dict, call) -> OrderActionResult:
    try:
        answer, message = call()
    except ChannelError as exc:
        detail = getattr(exc, "detail", "") or str(exc)
        event = _record(ticket, order, actor, action, ok=False, message=detail, details=details)
        return OrderActionResult(False, action, detail, event)
    event = _record(ticket, order, actor, action, ok=True, message=message, details=details)
    return OrderActionResult(True, action, message, event, answer)


def _upsert(order: Order, normalized: NormalizedOrder) -> None:
    from tickets.orders import upsert_order

    with transaction.atomic():
        upsert_order(account=order.channel_account, normalized=normalized)


# --- Refund ---------------------------------------------------------------------------------


def refund_order(
    *, ticket: Ticket, order: Order, actor=None, lines: list[tuple[int, int]] | None = None, reason: str = "",
) -> OrderActionResult:
    """Refund the whole order (no `lines`) or the given (OrderLine pk, quantity) pairs."""
    _check(order, "refund", ticket)
    chosen = _chosen_lines(order, lines)
    details = {"lines": [{"line": line.external_id, "quantity": quantity} for line, quantity in chosen],
               "reason": reason}
    if order.marketplace == "shopify":
        return _run(ticket, order, actor, "refund", details, lambda: _shopify_refund(order, chosen, reason))
    return _run(ticket, order, actor, "refund", details, lambda: _woo_refund(order, chosen, reason))


def _chosen_lines(order: Order, lines: list[tuple[int, int]] | None) -> list[tuple[Any, int]]:
    by_pk = {line.pk: line for line in order.lines.all()}
    if not lines:
        return []
    chosen = []
    for pk, quantity in lines:
        line = by_pk.get(pk)
        if line is None or not 0 < quantity <= line.quantity:
            raise OrderActionNotAllowed(_("Choose lines of this order and quantities up to those ordered."))
        chosen.append((line, quantity))
    return chosen


def _shopify_refund(order: Order, chosen, reason: str):
    from channels_ingest.adapters.shopify import normalize
    from channels_ingest.adapters.shopify.client import ShopifyClient

    client = ShopifyClient(order.channel_account)
    if chosen:
        refund_lines = [{"line_item_id": int(line.external_id), "quantity": quantity, "restock_type": "no_restock"}
                        for line, quantity in chosen]
        shipping = {"amount": "0.00"}
    else:
        refund_lines = [{"line_item_id": int(line.external_id), "quantity": line.quantity, "restock_type": "no_restock"}
                        for line in order.lines.all() if line.quantity]
        shipping = {"full_refund": True}
    calculated = client.calculate_refund(order.external_id, {"shipping": shipping, "refund_line_items": refund_lines})
    transactions = [
        {"parent_id": item.get("parent_id"), "amount": item.get("amount"), "kind": "refund", "gateway": item.get("gateway", "")}
        for item in calculated.get("transactions") or []
    ]
    created = client.create_refund(order.external_id, {
        "notify": False, "note": reason, "shipping": shipping, "refund_line_items": refund_lines,
        "transactions": transactions,
    })
    refund = normalize.refund(created)
    _upsert(order, NormalizedOrder(marketplace="shopify", external_id=order.external_id, is_complete=False,
                                   refunds=[refund]))
    return created, _("Shopify refunded %(amount)s %(currency)s (refund %(id)s).") % {
        "amount": refund.amount, "currency": order.currency, "id": refund.external_id}


def _woo_refund(order: Order, chosen, reason: str):
    from channels_ingest.adapters.woocommerce.client import WooCommerceClient

    if chosen:
        line_items = [{"id": int(line.external_id), "quantity": quantity,
                       "refund_total": str((line.total / line.quantity * quantity).quantize(Decimal("0.01")))}
                      for line, quantity in chosen]
        amount = sum((Decimal(item["refund_total"]) for item in line_items), Decimal("0"))
    else:
        line_items = []
        amount = refundable_amount(order)
    if amount <= 0:
        raise OrderActionNotAllowed(_("Nothing is left to refund on this order."))
    created = WooCommerceClient(order.channel_account).create_refund(
        order.external_id, amount=str(amount), reason=reason, line_items=line_items)
    refund_id = str(created.get("id", ""))
    refunded = Decimal(str(created.get("amount") or amount))
    _upsert(order, NormalizedOrder(
        marketplace="woocommerce", external_id=order.external_id, is_complete=False,
        refunds=[NormalizedRefund(external_id=refund_id, amount=refunded, reason=reason,
                                  lines=[{"line_external_id": str(item["id"]), "quantity": item["quantity"],
                                          "amount": item["refund_total"]} for item in line_items])],
    ))
    return created, _("WooCommerce refunded %(amount)s %(currency)s (refund %(id)s).") % {
        "amount": refunded, "currency": order.currency, "id": refund_id}


# --- Cancel and note ------------------------------------------------------------------------


def cancel_order(*, ticket: Ticket, order: Order, actor=None, reason: str = "customer") -> OrderActionResult:
    """Cancel a Shopify order (`reason`: customer, inventory, fraud, declined, other)."""
    _check(order, "cancel", ticket)
    if reason not in ("customer", "inventory", "fraud", "declined", "other"):
        raise OrderActionNotAllowed(_("Unknown cancellation reason."))

    def call():
        from channels_ingest.adapters.shopify import normalize
        from channels_ingest.adapters.shopify.client import ShopifyClient

        answer = ShopifyClient(order.channel_account).cancel_order(order.external_id, reason=reason)
        if answer.get("id"):
            _upsert(order, normalize.order(answer))
        else:
            Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
        return answer, _("Shopify cancelled order %(number)s.") % {"number": order.number}

    return _run(ticket, order, actor, "cancel", {"reason": reason}, call)


def add_order_note(*, ticket: Ticket, order: Order, note: str, actor=None) -> OrderActionResult:
    """Shopify keeps one note per order (replaced); WooCommerce adds a private order note."""
    _check(order, "note", ticket)
    note = note.strip()
    if not note:
        raise OrderActionNotAllowed(_("Write the note first."))

    def call():
        if order.marketplace == "shopify":
            from channels_ingest.adapters.shopify.client import ShopifyClient

            answer = ShopifyClient(order.channel_account).update_note(order.external_id, note)
            return answer, _("Shopify saved the order note.")
        from channels_ingest.adapters.woocommerce.client import WooCommerceClient

        answer = WooCommerceClient(order.channel_account).add_note(order.external_id, note)
        return answer, _("WooCommerce added note %(id)s to the order.") % {"id": answer.get("id", "")}

    return _run(ticket, order, actor, "note", {"note": note[:500]}, call)


def run_order_action(*, ticket: Ticket, order: Order, action: str, actor=None, **options) -> OrderActionResult:
    """Dispatch by name (the page's and the API's entry point)."""
    if action == "refund":
        return refund_order(ticket=ticket, order=order, actor=actor, lines=options.get("lines"),
                            reason=options.get("reason", ""))
    if action == "cancel":
        return cancel_order(ticket=ticket, order=order, actor=actor, reason=options.get("reason") or "customer")
    if action == "note":
        return add_order_note(ticket=ticket, order=order, actor=actor, note=options.get("note", ""))
    raise OrderActionNotAllowed(_("Unknown order action."))
