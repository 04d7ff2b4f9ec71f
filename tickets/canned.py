"""Filling a canned response's placeholders from a ticket.

Placeholders are `{{ name }}` from a fixed list, never template code: a canned response is text
written by staff and must not reach anything but these values.
"""

from __future__ import annotations

import re

from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from tickets.models import CannedResponse, Ticket

PLACEHOLDERS = {
    "customer_first_name": _("The customer's first name"),
    "customer_name": _("The customer's full name"),
    "order_number": _("The number of the ticket's latest order"),
    "tracking_number": _("The tracking number of that order's latest shipment"),
    "tracking_link": _("The tracking link of that order's latest shipment"),
    "order_status": _("That order's status"),
    "order_items": _("That order's items with quantities, e.g. 2 × Mug, 1 × Plate"),
    "order_total": _("That order's total with its currency"),
    "order_date": _("The date that order was placed"),
    "store_name": _("The store's name"),
    "agent_first_name": _("Your first name"),
    "ticket_id": _("The ticket number"),
}

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def placeholder_values(ticket: Ticket, agent=None) -> dict[str, str]:
    order = ticket.orders.order_by("-placed_at").first()
    shipment = order.shipments.order_by("-pk").first() if order else None
    return {
        "customer_first_name": ticket.customer.first_name,
        "customer_name": ticket.customer.name,
        "order_number": order.number if order else "",
        "tracking_number": shipment.tracking_number if shipment else "",
        "tracking_link": shipment.tracking_url if shipment else "",
        "order_status": str(order.get_status_display()) if order else "",
        "order_items": ", ".join(f"{line.quantity} × {line.title}" for line in order.lines.all()) if order else "",
        "order_total": f"{order.total} {order.currency}" if order else "",
        "order_date": date_format(order.placed_at, "SHORT_DATE_FORMAT") if order else "",
        "store_name": ticket.store.name,
        "agent_first_name": (agent.first_name or agent.get_username()) if agent else "",
        "ticket_id": str(ticket.pk),
    }


def render_canned_response(canned: CannedResponse, ticket: Ticket, agent=None) -> str:
    """Return the body with known placeholders filled; unknown ones are left as written so the
    agent sees them in the preview."""
    values = placeholder_values(ticket, agent)

    def fill(match: re.Match) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return _PLACEHOLDER.sub(fill, canned.body)
