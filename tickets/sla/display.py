"""What the agents' pages show of a ticket's SLA: its nearest deadline and how close it is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Ticket

LABELS = {
    "first_response": _("First response"),
    "next_response": _("Next response"),
    "resolution": _("Resolution"),
}


@dataclass(frozen=True)
class Deadline:
    kind: str
    due_at: dt.datetime
    state: str  # "ok" | "at_risk" | "breached"

    @property
    def label(self) -> str:
        return str(LABELS.get(self.kind, self.kind))


def nearest_deadlines(tickets, now: dt.datetime | None = None) -> dict[int, Deadline]:
    """The earliest running deadline of each open ticket that has one, by ticket id: at risk once
    its warning time has come, breached once passed. One query for the whole list (none when no
    ticket has a deadline)."""
    from tickets.models import ResponseFact

    with_deadline = [
        t.pk for t in tickets
        if t.status in Ticket.OPEN_STATUSES
        and (t.first_response_due_at or t.next_response_due_at or t.resolution_due_at)
    ]
    if not with_deadline:
        return {}
    now = now or timezone.now()
    nearest: dict[int, Deadline] = {}
    clocks = ResponseFact.objects.filter(
        ticket_id__in=with_deadline, completed_at__isnull=True, due_at__isnull=False
    ).values_list("ticket_id", "kind", "due_at", "warn_at")
    for ticket_id, kind, due_at, warn_at in clocks:
        if ticket_id in nearest and nearest[ticket_id].due_at <= due_at:
            continue
        if due_at <= now:
            state = "breached"
        elif warn_at is not None and warn_at <= now:
            state = "at_risk"
        else:
            state = "ok"
        nearest[ticket_id] = Deadline(kind=kind, due_at=due_at, state=state)
    return nearest


# --- Inbox views ------------------------------------------------------------------------------

INBOX_FILTERS = [
    ("at_risk", _("SLA at risk")),
    ("breached", _("SLA breached")),
]


def inbox_filter(name: str):
    """A filter on tickets for the inbox's SLA views, read through the running clocks (the
    partial index on open ResponseFact rows):

    - at_risk: a running clock's warning time or deadline has passed (breached ones included);
    - breached: a running clock's deadline has passed."""
    from django.db.models import Exists, OuterRef, Q

    from tickets.models import ResponseFact

    now = timezone.now()
    running = ResponseFact.objects.filter(ticket=OuterRef("pk"), completed_at__isnull=True, paused_at__isnull=True)
    if name == "breached":
        condition = Q(due_at__lte=now)
    elif name == "at_risk":
        condition = Q(due_at__lte=now) | Q(warn_at__lte=now)
    else:
        raise ValueError(f"unknown SLA filter {name!r}")
    return Q(status__in=Ticket.OPEN_STATUSES) & Q(Exists(running.filter(condition)))
