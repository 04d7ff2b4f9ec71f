"""The SLA sweep: record the warnings and breaches whose time has come.

Run every minute by Celery beat (`sla.sweep`). Its cost grows with the tickets that are due, not
with the open ones: it reads tickets through the partial index on `sla_next_check_at`, in
batches, each batch in one transaction:

1. one SQL statement locks a batch of due tickets (`FOR UPDATE SKIP LOCKED`, so two sweeps
   running at once, from two beat processes or an overlapping run, take different tickets),
   reads their running clocks, inserts a timeline event per warning or breach with
   `INSERT ... ON CONFLICT DO NOTHING` on the event's `dedupe_key` (clock id + warning/breach:
   an event recorded once is never recorded again, whoever tries), marks the clocks and moves
   each ticket's `sla_next_check_at` to its next moment of interest;
2. for the events inserted just now, Python notifies the assignee and the team lead (one
   insert) and applies the policy's escalation (priority, team, lead, tag).

A worker that dies mid-batch rolls the batch back, and the next sweep does it again from the
start: nothing is repeated and nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tickets.models import ResponseFact, Ticket, TicketEvent

logger = logging.getLogger(__name__)

WARNING = "warning"
BREACH = "breach"


@dataclass
class SweepResult:
    tickets: int = 0
    batches: int = 0
    warnings: int = 0
    breaches: int = 0
    duplicates_skipped: int = 0
    recorded: list[tuple[int, str, str]] = field(default_factory=list)  # (ticket id, clock kind, warning|breach)


@dataclass
class _Clock:
    """A running clock as the sweep returns it."""

    id: int
    ticket_id: int
    kind: str
    policy_id: int | None
    due_at: dt.datetime


def dedupe_key(clock_id: int, what: str) -> str:
    return f"sla:{clock_id}:{what}"


# One statement per batch, so the batch costs one round trip whatever its size:
# - due: the batch of due tickets, locked (SKIP LOCKED: a concurrent sweep takes others);
# - clocks: their running clocks, each with what happens now (breach, or warning) and what will
#   have been recorded once this batch commits;
# - recorded: the timeline events, inserted unless already there (dedupe key per clock and kind);
# - marked: the clocks' warned_at / breached_at;
# - moved: each ticket's next check, the earliest warning or deadline still to record (or none).
# Data-modifying CTEs all see the same snapshot; hence "_after" columns rather than re-reading.
SWEEP_BATCH_SQL = """
WITH due AS (
    SELECT id, status FROM {tickets} WHERE sla_next_check_at <= %(now)s
    ORDER BY sla_next_check_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), clocks AS (
    SELECT f.id, f.ticket_id, f.kind, f.policy_id, f.due_at, f.warn_at,
           (f.breached_at IS NULL AND f.due_at <= %(now)s) AS breach_now,
           (f.warned_at IS NULL AND f.breached_at IS NULL AND f.due_at > %(now)s AND f.warn_at <= %(now)s) AS warn_now,
           (f.breached_at IS NOT NULL OR f.due_at <= %(now)s) AS breached_after,
           (f.warned_at IS NOT NULL OR f.breached_at IS NOT NULL OR f.warn_at <= %(now)s
            OR f.due_at <= %(now)s) AS warned_after
    FROM {facts} f JOIN due ON f.ticket_id = due.id
    -- A ticket closed by a path that bypassed the actions (a merge, a bulk update) has no deadline.
    WHERE f.completed_at IS NULL AND f.due_at IS NOT NULL AND due.status IN {open_statuses}
), happening AS (
    SELECT c.*, 'sla:' || c.id || CASE WHEN c.breach_now THEN ':breach' ELSE ':warning' END AS dedupe_key
    FROM clocks c WHERE c.breach_now OR c.warn_now
), recorded AS (
    INSERT INTO {events} (ticket_id, kind, actor_id, data, dedupe_key, created_at)
    SELECT ticket_id, CASE WHEN breach_now THEN 'sla_breached' ELSE 'sla_warning' END, NULL,
           jsonb_build_object('clock', kind, 'clock_id', id, 'due_at', due_at, 'policy_id', policy_id),
           dedupe_key, %(now)s
    FROM happening
    ON CONFLICT (ticket_id, dedupe_key) WHERE NOT (dedupe_key = '') DO NOTHING
    RETURNING ticket_id, dedupe_key
), marked AS (
    UPDATE {facts} f SET
        breached_at = CASE WHEN h.breach_now THEN %(now)s ELSE f.breached_at END,
        warned_at = COALESCE(f.warned_at, %(now)s)
    FROM happening h WHERE f.id = h.id
), next_checks AS (
    SELECT ticket_id, min(LEAST(CASE WHEN NOT warned_after THEN warn_at END,
                                CASE WHEN NOT breached_after THEN due_at END)) AS next_check
    FROM clocks GROUP BY ticket_id
), moved AS (
    UPDATE {tickets} t SET sla_next_check_at = n.next_check
    FROM due LEFT JOIN next_checks n ON n.ticket_id = due.id
    WHERE t.id = due.id
)
SELECT (SELECT count(*) FROM due), array_agg(h.id), array_agg(h.ticket_id), array_agg(h.kind),
       array_agg(h.policy_id), array_agg(extract(epoch FROM h.due_at)), array_agg(h.breach_now), array_agg(r.dedupe_key IS NOT NULL)
FROM happening h LEFT JOIN recorded r ON r.ticket_id = h.ticket_id AND r.dedupe_key = h.dedupe_key
"""


def _sweep_batch(now: dt.datetime, limit: int, result: SweepResult) -> int:
    """Sweep one batch inside the caller's transaction; returns how many tickets it locked."""
    sql = SWEEP_BATCH_SQL.format(
        tickets=Ticket._meta.db_table, facts=ResponseFact._meta.db_table, events=TicketEvent._meta.db_table,
        open_statuses="(" + ", ".join(f"'{status}'" for status in Ticket.OPEN_STATUSES) + ")",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"now": now, "limit": limit})
        locked, *columns = cursor.fetchone()
    items = zip(*columns, strict=True) if columns[0] is not None else ()
    fresh: list[tuple[_Clock, str]] = []
    for clock_id, ticket_id, kind, policy_id, due_at, is_breach, inserted in items:
        what = BREACH if is_breach else WARNING
        if not inserted:
            result.duplicates_skipped += 1
            continue
        clock = _Clock(clock_id, ticket_id, kind, policy_id, dt.datetime.fromtimestamp(float(due_at), dt.UTC))
        fresh.append((clock, what))
        if is_breach:
            result.breaches += 1
        else:
            result.warnings += 1
        result.recorded.append((ticket_id, kind, what))
    result.tickets += locked
    if fresh:
        from tickets.sla.escalation import act_on_recorded

        act_on_recorded(fresh, now)
    return locked


def sweep(*, now: dt.datetime | None = None, batch_size: int | None = None, max_batches: int | None = None) -> SweepResult:
    """Record every warning and breach due at `now` (default: the current time); see the module
    docstring. Safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    batch_size = batch_size or settings.SLA_SWEEP_BATCH_SIZE
    result = SweepResult()
    while max_batches is None or result.batches < max_batches:
        with transaction.atomic():
            locked = _sweep_batch(now, batch_size, result)
        if not locked:
            break
        result.batches += 1
        if locked < batch_size:
            break
    return result
