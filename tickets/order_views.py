"""The ticket page's order forms: link and unlink an order, and order actions (refund, cancel,
note) with a confirmation step. Thin: `tickets.orders` and `tickets.order_actions` do the work."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tickets import actions, order_actions
from tickets.access import can_view_order
from tickets.models import Order
from tickets.orders import find_order_for_link, unlink_order
from tickets.views import _render_ticket, _ticket_or_404, helpdesk_role_required

ACTION_LABELS = {
    "refund": gettext_lazy("Refund"), "cancel": gettext_lazy("Cancel order"), "note": gettext_lazy("Add order note"),
}


@require_POST
@helpdesk_role_required
def link(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket_or_404(request, pk)
    reference = request.POST.get("reference", "")
    order = find_order_for_link(ticket=ticket, reference=reference)
    if order is not None and not can_view_order(request.user, order):
        order = None  # a store the agent does not see: as if there were no such order
    if order is None:
        messages.error(request, _("No order %(reference)s in this store.") % {"reference": reference.strip()})
    elif actions.link_order(ticket=ticket, order=order, actor=request.user):
        messages.success(request, _("Order %(number)s linked.") % {"number": order.number})
    else:
        messages.info(request, _("Order %(number)s was linked already.") % {"number": order.number})
    return redirect("tickets:detail", pk=ticket.pk)


@require_POST
@helpdesk_role_required
def unlink(request: HttpRequest, pk: int, order_pk: int) -> HttpResponse:
    ticket = _ticket_or_404(request, pk)
    order = get_object_or_404(ticket.orders.all(), pk=order_pk)
    if unlink_order(ticket=ticket, order=order, actor=request.user):
        messages.success(request, _("Order %(number)s unlinked.") % {"number": order.number})
    return redirect("tickets:detail", pk=ticket.pk)


def _options(request: HttpRequest, order: Order) -> dict:
    lines = []
    for line in order.lines.all():
        raw = request.POST.get(f"line_{line.pk}", "").strip()
        if raw.isdigit() and int(raw) > 0:
            lines.append((line.pk, int(raw)))
    return {"lines": lines, "reason": request.POST.get("reason", "").strip()[:500],
            "note": request.POST.get("note", "").strip()[:5000]}


def _summary(order: Order, action: str, options: dict) -> str:
    if action == "refund" and options["lines"]:
        titles = {line.pk: line.title for line in order.lines.all()}
        items = ", ".join(f"{quantity} × {titles[pk]}" for pk, quantity in options["lines"])
        return _("Refund %(items)s on order %(number)s through the shop?") % {"items": items, "number": order.number}
    if action == "refund":
        return _("Refund the whole order %(number)s (%(amount)s %(currency)s left to refund) through the shop?") % {
            "number": order.number, "amount": order_actions.refundable_amount(order), "currency": order.currency}
    if action == "cancel":
        return _("Cancel order %(number)s in the shop?") % {"number": order.number}
    return _("Add this note to order %(number)s in the shop?") % {"number": order.number}


@require_POST
@helpdesk_role_required
def order_action(request: HttpRequest, pk: int, order_pk: int, action: str) -> HttpResponse:
    """First POST: the page comes back with a confirmation box; the confirmed POST runs it."""
    ticket = _ticket_or_404(request, pk)
    order = get_object_or_404(ticket.orders.select_related("channel_account"), pk=order_pk)
    if action not in order_actions.available_actions(order):
        messages.error(request, _("This shop does not allow that action on its orders from here."))
        return redirect("tickets:detail", pk=ticket.pk)
    options = _options(request, order)
    if request.POST.get("confirmed") != "1":
        hidden = [(f"line_{line_pk}", quantity) for line_pk, quantity in options["lines"]]
        hidden += [(name, options[name]) for name in ("reason", "note") if options[name]]
        return _render_ticket(request, ticket, pending_order_action={
            "order": order, "action": action, "label": ACTION_LABELS[action],
            "summary": _summary(order, action, options), "hidden": hidden,
            "note": options["note"] if action == "note" else "",
        })
    try:
        result = order_actions.run_order_action(ticket=ticket, order=order, action=action, actor=request.user,
                                                **options)
    except order_actions.OrderActionNotAllowed as exc:
        messages.error(request, str(exc))
    else:
        if result.ok:
            messages.success(request, result.message)
        else:
            messages.error(request, _("The shop refused: %(error)s") % {"error": result.message})
    return redirect("tickets:detail", pk=ticket.pk)
