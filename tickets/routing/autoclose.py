"""Closing solved tickets once their store's waiting time has passed.

A solved ticket stays solved for `Store.auto_close_solved_after_days` days (0: forever), during
which a customer reply reopens it; then it is closed. Run by beat (`routing.auto_close_solved`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from tickets import actions
from tickets.models import Store, Ticket

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def close_solved_ticket(ticket_id: int, cutoff: datetime) -> bool:
    """Close one ticket if it is still solved since before `cutoff` (checked under its row lock:
    a customer may have reopened it since it was selected)."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
        if ticket is None or ticket.status != Ticket.Status.SOLVED:
            return False
        if ticket.solved_at is None or ticket.solved_at >= cutoff:
            return False
        actions.change_status(ticket=ticket, status=Ticket.Status.CLOSED)
    return True


def auto_close_solved(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Close every ticket solved longer ago than its store's setting; returns how many."""
    now = now or timezone.now()
    closed = 0
    for store_id, days in Store.objects.filter(auto_close_solved_after_days__gt=0).values_list(
        "pk", "auto_close_solved_after_days"
    ):
        cutoff = now - timedelta(days=days)
        while True:
            due = list(
                Ticket.objects.filter(store_id=store_id, status=Ticket.Status.SOLVED, solved_at__lt=cutoff)
                .order_by("solved_at", "pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            closed_now = sum(close_solved_ticket(ticket_id, cutoff) for ticket_id in due)
            closed += closed_now
            if len(due) < batch_size or closed_now == 0:
                break
    if closed:
        logger.info("closed %s solved tickets automatically", closed)
    return closed
