"""The notifications page: the signed-in agent's latest notifications, read or not.

Notifications about tickets the agent no longer sees (the ticket moved to another store or team)
are left out, as the ticket page would refuse them (`tickets.access`).
"""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from tickets.access import can_view_ticket, ticket_condition
from tickets.models import Notification
from tickets.notify import mark_read
from tickets.views import helpdesk_role_required

PAGE_SIZE = 100


@require_GET
@helpdesk_role_required
def notification_list(request: HttpRequest) -> HttpResponse:
    rows = Notification.objects.filter(recipient=request.user)
    condition = ticket_condition(request.user, "ticket__")
    if condition is not None:
        rows = rows.filter(Q(ticket__isnull=True) | condition)
    notifications = list(rows.select_related("ticket").order_by("-created_at", "-pk")[:PAGE_SIZE])
    return render(request, "tickets/notifications.html", {
        "nav": "notifications",
        "notifications": notifications,
        "has_unread": any(n.read_at is None for n in notifications),
    })


@require_POST
@helpdesk_role_required
def mark_all_read(request: HttpRequest) -> HttpResponse:
    mark_read(request.user)
    return redirect("notifications:list")


@require_POST
@helpdesk_role_required
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and go to its ticket (or back to the list)."""
    notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    if notification.ticket_id and can_view_ticket(request.user, notification.ticket):
        return redirect("tickets:detail", pk=notification.ticket_id)
    return redirect("notifications:list")
