"""Keyset (cursor) pagination for every list: stable under inserts, and each page is an index
range scan however deep the client pages."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class HelpdeskCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class TicketPagination(HelpdeskCursorPagination):
    # Matches the `ticket_updated` and `ticket_inbox` indexes: most recent activity first.
    ordering = ("-updated_at", "-id")


class MessagePagination(HelpdeskCursorPagination):
    # A conversation reads top to bottom.
    ordering = ("created_at", "id")


class CustomerPagination(HelpdeskCursorPagination):
    ordering = ("-created_at", "-id")


class OrderPagination(HelpdeskCursorPagination):
    ordering = ("-placed_at", "-id")
