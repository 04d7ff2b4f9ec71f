"""Who sees which tickets, customers and orders: the single source of visibility rules."""

from __future__ import annotations

from tickets.models import Customer, Order, Ticket


def visible_store_ids(user) -> frozenset[int] | None:
    """The stores whose data `user` may read; None means every store."""
    return None


def visible_tickets(user):
    return Ticket.objects.visible_to(user)


def visible_customers(user):
    return Customer.objects.all()


def visible_orders(user):
    return Order.objects.all()


def can_view_ticket(user, ticket: Ticket) -> bool:
    return visible_tickets(user).filter(pk=ticket.pk).exists()
