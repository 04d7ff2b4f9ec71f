"""SLA sweep benchmark: `make bench-sla` (python -m tickets.sla.benchmark).

Builds a database of its own (helpdesk_bench_sla, never the dev or test databases) on the
embedded PostgreSQL (or DATABASE_URL's server), fills it with open tickets that each have a
running SLA clock, makes some of them due, and times one sweep: selecting the due tickets
through the partial index on `sla_next_check_at`, recording their breaches on the timeline,
marking their clocks and moving their next check. It prints the figures for:

- `--small-open` open tickets with the first `--due` count due (default 100 k open, 1 k due);
- `--open` open tickets (default 1 M) with each `--due` count due (default 1 k, 10 k, 100 k).

Rows are created with INSERT ... SELECT generate_series from one template row each, so a
million tickets take seconds rather than an hour of ORM saves. Each figure is the median of
`--repeat` sweeps over the same due set (reset in between). The sweep includes publishing its
live events (`--no-live-events` leaves them out, for comparison). It prints figures; it asserts
nothing (tests assert behaviour).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from helpdesk.benchmarking import bench_database_url, reset_bench_database

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATABASE = "helpdesk_bench_sla"




def log(message: str) -> None:
    print(message, flush=True)


def _insert_copies(model, template_pk: int, count: int, overrides: dict[str, str], series_start: int = 1) -> None:
    """Insert `count` copies of one row, with SQL expressions (over the series value `n`) for
    some columns."""
    from django.db import connection

    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    select = ", ".join(overrides.get(column, f'"{column}"') for column in columns)
    table = model._meta.db_table
    names = ", ".join(f'"{column}"' for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) "
            f"SELECT {select} FROM {table} CROSS JOIN generate_series(%s, %s) AS n WHERE {table}.id = %s",
            [series_start, series_start + count - 1, template_pk],
        )


class Bench:
    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.open = 0

    def prepare(self) -> None:
        from django.core.management import call_command

        from tickets.models import Customer, SLAPolicy, Store

        call_command("migrate", "--no-input", verbosity=0)
        self.store = Store.objects.create(name="Bench", slug="bench")
        self.customer = Customer.objects.create(name="Bench customer", email="bench@example.com")
        self.policy = SLAPolicy.objects.create(name="Bench chat", hours=SLAPolicy.Hours.CALENDAR,
                                               first_response_minutes=60, warning_minutes=15)

    def add_open_tickets(self, count: int) -> float:
        """Add `count` open tickets, each with a running first-response clock due in the future."""
        from django.db import connection, transaction
        from django.utils import timezone

        from tickets.models import ResponseFact, Ticket

        started = time.perf_counter()
        now = timezone.now()
        with transaction.atomic():
            template = Ticket.objects.create(
                store=self.store, channel="chat", customer=self.customer, subject="Bench", status="open",
                created_at=now, updated_at=now, last_customer_message_at=now,
                first_response_due_at=now, sla_next_check_at=now,
            )
            # Future deadlines spread over the next 24 hours; the sweep must never read these.
            future = "now() + interval '1 hour' + (n %% 86400) * interval '1 second'"
            _insert_copies(Ticket, template.pk, count - 1, {
                "subject": "'Bench ' || n", "first_response_due_at": future, "sla_next_check_at": future,
                "created_at": "now() - (n %% 3600) * interval '1 second'",
                "updated_at": "now() - (n %% 3600) * interval '1 second'",
            })
            Ticket.objects.filter(pk=template.pk).update(
                first_response_due_at=now + timezone.timedelta(hours=2), sla_next_check_at=now + timezone.timedelta(hours=2))
            fact = ResponseFact.objects.create(
                ticket=template, kind="first_response", store=self.store, channel="chat", started_at=now,
                due_at=now, warn_at=now, policy=self.policy, target_seconds=3600,
            )
            table = ResponseFact._meta.db_table
            columns = [f.column for f in ResponseFact._meta.concrete_fields if not f.primary_key]
            select = ", ".join({
                "ticket_id": "t.id", "due_at": "t.first_response_due_at",
                "warn_at": "t.first_response_due_at - interval '15 minutes'",
                "started_at": "t.first_response_due_at - interval '1 hour'",
            }.get(c, f"f.{c}") for c in columns)
            with connection.cursor() as cursor:
                cursor.execute(
                    f'INSERT INTO {table} ({", ".join(columns)}) SELECT {select} '
                    f"FROM {Ticket._meta.db_table} t CROSS JOIN {table} f WHERE f.id = %s AND t.id > %s",
                    [fact.pk, template.pk],
                )
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {Ticket._meta.db_table}")
            cursor.execute(f"VACUUM ANALYZE {ResponseFact._meta.db_table}")
        self.open += count
        return time.perf_counter() - started

    def make_due(self, due: int) -> None:
        """Make `due` tickets, spread over the table, breached a minute ago; every other ticket's
        next check back in the future, and no SLA events recorded."""
        from django.db import connection, transaction

        from tickets.models import ResponseFact, Ticket, TicketEvent

        step = max(self.open // due, 1)
        tickets, facts = Ticket._meta.db_table, ResponseFact._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TicketEvent._meta.db_table} WHERE kind IN ('sla_warning', 'sla_breached')")
            # Every earlier due set back to the future first.
            cursor.execute(
                f"UPDATE {tickets} SET first_response_due_at = now() + interval '1 hour' + (id % 86400) * interval '1 second' "
                "WHERE first_response_due_at <= now()"
            )
            cursor.execute(
                f"UPDATE {tickets} SET sla_next_check_at = first_response_due_at - interval '15 minutes' "
                "WHERE sla_next_check_at IS NULL OR sla_next_check_at <= now()"
            )
            cursor.execute(f"UPDATE {facts} SET warned_at = NULL, breached_at = NULL "
                           "WHERE warned_at IS NOT NULL OR breached_at IS NOT NULL")
            cursor.execute(
                f"WITH chosen AS (SELECT id FROM {tickets} WHERE id %% %s = 0 ORDER BY id LIMIT %s) "
                f"UPDATE {tickets} t SET first_response_due_at = now() - interval '1 minute', "
                "sla_next_check_at = now() - interval '1 minute' FROM chosen WHERE t.id = chosen.id",
                [step, due],
            )
            cursor.execute(
                f"UPDATE {facts} f SET due_at = t.first_response_due_at, "
                "warn_at = t.first_response_due_at - interval '15 minutes' "
                f"FROM {tickets} t WHERE f.ticket_id = t.id AND f.completed_at IS NULL AND f.due_at <> t.first_response_due_at"
            )
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tickets}")

    def due_count(self) -> int:
        from django.db import connection

        from tickets.models import Ticket

        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {Ticket._meta.db_table} WHERE sla_next_check_at <= now()")
            return cursor.fetchone()[0]

    def selection_plan(self) -> str:
        from django.db import connection, transaction

        from tickets.models import Ticket

        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM {Ticket._meta.db_table} "
                "WHERE sla_next_check_at <= now() ORDER BY sla_next_check_at LIMIT %s FOR UPDATE SKIP LOCKED",
                [self.batch_size],
            )
            lines = [row[0] for row in cursor.fetchall()]
            transaction.set_rollback(True)
        return next((line.strip() for line in lines if "Index" in line), lines[0] if lines else "")

    def selection_ms(self) -> float:
        """The due selection alone (index range scan, LIMIT, FOR UPDATE SKIP LOCKED), rolled back."""
        from django.db import connection, transaction

        from tickets.models import Ticket

        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(
                f"SELECT id FROM {Ticket._meta.db_table} WHERE sla_next_check_at <= now() "
                "ORDER BY sla_next_check_at LIMIT %s FOR UPDATE SKIP LOCKED", [self.batch_size],
            )
            cursor.fetchall()
            elapsed = time.perf_counter() - started
            transaction.set_rollback(True)
        return elapsed * 1000

    def sweep_once(self, due: int) -> tuple[float, float, int]:
        """One sweep over a fresh due set: (ms, ms of the first batch's due selection alone, breaches)."""
        from django.utils import timezone

        from tickets.sla.sweep import sweep

        self.make_due(due)
        selecting = self.selection_ms()
        started = time.perf_counter()
        result = sweep(now=timezone.now(), batch_size=self.batch_size)
        elapsed = time.perf_counter() - started
        return elapsed * 1000, selecting, result.breaches

    def measure(self, due: int, repeat: int) -> None:
        runs = [self.sweep_once(due) for _ in range(repeat)]
        total = statistics.median(r[0] for r in runs)
        selecting = statistics.median(r[1] for r in runs)
        breaches = runs[-1][2]
        log(f"  {self.open:>9,} open {due:>8,} due: sweep {total:8.1f} ms "
            f"({total * 1000 / max(breaches, 1):6.1f} µs per due ticket; selecting a batch alone {selecting:5.1f} ms; "
            f"{breaches:,} breaches recorded)")


def run(open_count: int, small_open: int, dues: list[int], repeat: int, batch_size: int) -> None:
    bench = Bench(batch_size)
    bench.prepare()
    log(f"SLA sweep benchmark: database {DATABASE}, batch size {batch_size}, median of {repeat} sweeps")
    first = min(small_open, open_count)
    seconds = bench.add_open_tickets(first)
    log(f"created {first:,} open tickets with running clocks in {seconds:.1f} s")
    bench.sweep_once(min(dues))  # warm-up: imports, caches, connection
    bench.measure(min(dues), repeat)
    if open_count > first:
        seconds = bench.add_open_tickets(open_count - first)
        log(f"created {open_count - first:,} more open tickets in {seconds:.1f} s")
    for due in dues:
        if open_count > first or due != min(dues):
            bench.measure(due, repeat)
    bench.make_due(min(dues))
    log(f"due selection plan: {bench.selection_plan()}")
    log(f"an idle sweep (nothing due): {_idle_sweep_ms(bench):.2f} ms")


def _idle_sweep_ms(bench: Bench) -> float:
    from django.utils import timezone

    from tickets.sla.sweep import sweep

    sweep(now=timezone.now(), batch_size=bench.batch_size)  # records what make_due left due
    started = time.perf_counter()
    sweep(now=timezone.now(), batch_size=bench.batch_size)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=1_000_000, help="open tickets for the main figures")
    parser.add_argument("--small-open", type=int, default=100_000, help="open tickets for the comparison")
    parser.add_argument("--due", default="1000,10000,100000", help="comma-separated due counts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--no-live-events", action="store_true",
                        help="publish no live events (to see what the channel-layer messages cost)")
    args = parser.parse_args()
    dues = sorted(int(value) for value in args.due.split(",") if value.strip())

    sys.path.insert(0, str(BASE_DIR))
    from helpdesk.devstack import Stack

    stack = Stack()
    stack.start_services()
    try:
        url = bench_database_url(os.environ["DATABASE_URL"], DATABASE)
        reset_bench_database(url, DATABASE)
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
        os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
        os.environ["CACHE_KEY_PREFIX"] = "bench-sla"
        os.environ["CHANNEL_LAYER_PREFIX"] = "bench-sla"
        import django

        django.setup()
        from contextlib import nullcontext

        from tickets.events import live_events_suppressed

        with live_events_suppressed() if args.no_live_events else nullcontext():
            run(args.open, args.small_open, dues, args.repeat, args.batch_size)
    finally:
        stack.stop_services()


if __name__ == "__main__":
    main()
