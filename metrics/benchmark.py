"""Dashboard benchmark: `make bench-metrics` (python -m metrics.benchmark).

Loads a large history straight into a database of its own (`helpdesk_bench_metrics`) with
INSERT ... SELECT over generate_series (no ORM, no per-row round trips): tickets with their
timeline events, an inbound message and a reply each, SLA response facts, surveys and survey
answers (1 M tickets and 10 M answers by default). It then builds the rollups
(`metrics.rollup.rebuild`, as `manage.py rebuild_metrics` does), times the minute task, and
requests every dashboard route many times through the Django test client (the whole Django stack
but the socket: middleware, sessions, permissions, queries, templates), printing p50 and p95 per
route. Target: p95 ≤ 200 ms.

It prints figures; it asserts nothing (tests assert behaviour, see tests/).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from helpdesk.benchmarking import bench_database_url, insert_select, reset_bench_database

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = "helpdesk_bench_metrics"
CHANNELS = ["email", "chat", "whatsapp", "messenger", "sms", "amazon", "shopify", "instagram"]




def _step(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {label}: {now - started:.1f} s", flush=True)
    return now




def load(tickets: int, answers: int, days: int, agents: int) -> dict:
    """Write the history; returns the ids the requests use."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from tickets.models import AgentProfile, Store, Team

    User = get_user_model()
    stores = [Store.objects.create(name=f"Bench {c}", slug=f"bench-{c}", currency="EUR") for c in ("es", "ro", "uk")]
    teams = [Team.objects.create(name=f"Team {n}", store=stores[n % 3]) for n in range(6)]
    # No passwords: the requests sign in with force_login, and hashing costs seconds per user.
    admin = User.objects.create_user("bench-admin", password=None, is_staff=True)
    AgentProfile.objects.create(user=admin, role=AgentProfile.Role.ADMIN)
    manager = User.objects.create_user("bench-manager", password=None)
    AgentProfile.objects.create(user=manager, role=AgentProfile.Role.MANAGER).teams.add(teams[0])
    agent_users = []
    for n in range(agents):
        user = User.objects.create_user(f"bench-agent-{n}", password=None, first_name=f"Agent {n}")
        AgentProfile.objects.create(user=user, role=AgentProfile.Role.AGENT).teams.add(teams[n % len(teams)])
        agent_users.append(user)
    params = {
        "stores": [s.pk for s in stores], "teams": [t.pk for t in teams], "agents": [u.pk for u in agent_users],
        "channels": CHANNELS, "tickets": tickets, "answers": answers, "surveys": (answers + 2) // 3,
        "span": days * 86400, "customers": max(tickets // 4, 1), "agent_count": agents,
    }
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        # A bulk load whose references are right by construction: skip the per-row foreign-key
        # triggers (superuser only; the embedded server's user is one). Reset below.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SELECT setseed(0.42)")
        insert_select(cursor, "tickets_customer", {"name": "'Customer ' || g", "email": "'c' || g || '@example.com'",
                                             "created_at": "now()", "updated_at": "now()"},
                "generate_series(1, %(customers)s) g", params)
        # Each agent is in one team, which serves one store; tickets of a store go to its agents,
        # on every channel (so a day has up to agents × channels rollup rows).
        cursor.execute("""
            CREATE TEMP TABLE bench_t AS
            SELECT g AS n, (%(stores)s::int[])[1 + (a %% 6) %% 3] AS store_id, (%(teams)s::int[])[1 + a %% 6] AS team_id,
                   (%(channels)s::text[])[1 + (g / %(agent_count)s) %% 8] AS channel,
                   (%(agents)s::int[])[1 + a] AS agent_id,
                   now() - random() * (%(span)s * interval '1 second') AS created_at,
                   (60 * exp(random() * 5.5))::int AS fr, (3600 * exp(random() * 4.5))::int AS res,
                   random() < 0.85 AS solved, random() < 0.04 AS reopened,
                   1 + (g %% %(customers)s) AS customer_n
            FROM generate_series(1, %(tickets)s) g, LATERAL (SELECT g %% %(agent_count)s AS a) agent""", params)
        cursor.execute("SELECT min(id) FROM tickets_customer")
        (first_customer,) = cursor.fetchone()
        params["first_customer"] = first_customer
        insert_select(cursor, "tickets_ticket", {
            "store_id": "b.store_id", "channel": "b.channel", "customer_id": "%(first_customer)s + b.customer_n - 1",
            "subject": "'Where is my order ' || b.n", "status": "CASE WHEN b.solved THEN 'solved' ELSE 'open' END",
            "priority": "2", "team_id": "b.team_id", "assignee_id": "b.agent_id", "language": "'en'",
            "created_at": "b.created_at", "updated_at": "b.created_at + b.res * interval '1 second'",
            "first_response_at": "b.created_at + b.fr * interval '1 second'",
            "solved_at": "CASE WHEN b.solved THEN b.created_at + b.res * interval '1 second' END",
        }, "bench_t b ORDER BY b.n", params)
        cursor.execute("ALTER TABLE bench_t ADD COLUMN ticket_id bigint")
        cursor.execute("""UPDATE bench_t b SET ticket_id = t.id FROM
            (SELECT id, row_number() OVER (ORDER BY id) AS n FROM tickets_ticket) t WHERE t.n = b.n""")
        cursor.execute("CREATE INDEX ON bench_t (ticket_id)")
        started = _step(f"{tickets:,} tickets", started)
        insert_select(cursor, "tickets_message", {
            "ticket_id": "b.ticket_id", "direction": "d.direction",
            "author_type": "CASE WHEN d.direction = 'inbound' THEN 'customer' ELSE 'agent' END",
            "author_user_id": "CASE WHEN d.direction = 'outbound' THEN b.agent_id END",
            "channel": "b.channel", "body_text": "'Hello'", "metadata": "'{}'::jsonb",
            "delivery_state": "CASE WHEN d.direction = 'inbound' THEN 'received' ELSE 'sent' END",
            "created_at": "b.created_at + d.offset_seconds * interval '1 second'",
        }, "bench_t b CROSS JOIN LATERAL (VALUES ('inbound', 0), ('outbound', b.fr)) d(direction, offset_seconds)")
        started = _step(f"{2 * tickets:,} messages", started)
        insert_select(cursor, "tickets_ticketevent", {"ticket_id": "ticket_id", "kind": "'created'", "data": "'{}'::jsonb",
                                                "created_at": "created_at"}, "bench_t")
        insert_select(cursor, "tickets_ticketevent", {
            "ticket_id": "m.ticket_id", "kind": "'message'", "actor_id": "m.author_user_id",
            "data": "jsonb_build_object('message_id', m.id, 'direction', m.direction)", "created_at": "m.created_at",
        }, "tickets_message m")
        insert_select(cursor, "tickets_ticketevent", {
            "ticket_id": "ticket_id", "kind": "'status_changed'", "actor_id": "agent_id",
            "data": "'{\"from\": \"open\", \"to\": \"solved\"}'::jsonb",
            "created_at": "created_at + res * interval '1 second'"}, "bench_t WHERE solved")
        insert_select(cursor, "tickets_ticketevent", {
            "ticket_id": "ticket_id", "kind": "'reopened'", "data": "'{\"from\": \"solved\", \"to\": \"open\"}'::jsonb",
            "created_at": "created_at + (res + 7200) * interval '1 second'"}, "bench_t WHERE solved AND reopened")
        started = _step("ticket events", started)
        insert_select(cursor, "tickets_responsefact", {
            "ticket_id": "ticket_id", "kind": "'first_response'", "store_id": "store_id", "channel": "channel",
            "team_id": "team_id", "agent_id": "agent_id", "started_at": "created_at",
            "completed_at": "created_at + fr * interval '1 second'", "due_at": "created_at + interval '4 hours'",
            "business_seconds": "(fr * 0.6)::int", "calendar_seconds": "fr", "breached": "fr > 14400",
        }, "bench_t")
        insert_select(cursor, "tickets_responsefact", {
            "ticket_id": "ticket_id", "kind": "'resolution'", "store_id": "store_id", "channel": "channel",
            "team_id": "team_id", "agent_id": "agent_id", "started_at": "created_at",
            "completed_at": "created_at + res * interval '1 second'", "due_at": "created_at + interval '48 hours'",
            "business_seconds": "(res * 0.5)::int", "calendar_seconds": "res", "breached": "res > 172800",
        }, "bench_t WHERE solved")
        started = _step("SLA response facts", started)
        insert_select(cursor, "surveys_survey", {
            "ticket_id": "b.ticket_id", "store_id": "b.store_id",
            "customer_id": "%(first_customer)s + b.customer_n - 1", "channel": "b.channel",
            "kinds": "'[\"csat\", \"nps\", \"ces\"]'::jsonb", "language": "'en'", "status": "'sent'",
            "due_at": "b.created_at + b.res * interval '1 second'", "sent_at": "b.created_at + b.res * interval '1 second'",
            "created_at": "b.created_at",
        }, "generate_series(1, %(surveys)s) s JOIN bench_t b ON b.n = 1 + (s - 1) %% %(tickets)s ORDER BY s", params)
        cursor.execute("SELECT min(id) FROM surveys_survey")
        (params["first_survey"],) = cursor.fetchone()
        started = _step(f"{params['surveys']:,} surveys", started)
        insert_select(cursor, "surveys_surveyanswer", {
            "survey_id": "sv.id", "kind": "k.kind",
            "score": """CASE k.kind WHEN 'csat' THEN LEAST(5, 1 + floor(power(random(), 0.4) * 5))
                        WHEN 'nps' THEN LEAST(10, floor(power(random(), 0.5) * 11))
                        ELSE LEAST(7, 1 + floor(power(random(), 2) * 7)) END""",
            "comment": "CASE WHEN random() < 0.05 THEN 'Thanks for the help with order ' || sv.id ELSE '' END",
            "answered_at": "sv.due_at + interval '2 hours'", "changed_at": "sv.due_at + interval '2 hours'",
            "language": "'en'", "store_id": "sv.store_id", "channel": "sv.channel", "team_id": "t.team_id",
            "agent_id": "t.assignee_id", "ticket_id": "sv.ticket_id", "customer_id": "sv.customer_id",
        }, """generate_series(0, %(answers)s - 1) g
              JOIN surveys_survey sv ON sv.id = %(first_survey)s + g / 3
              JOIN tickets_ticket t ON t.id = sv.ticket_id
              CROSS JOIN LATERAL (SELECT (ARRAY['csat', 'nps', 'ces'])[1 + g %% 3] AS kind) k""", params)
        started = _step(f"{answers:,} survey answers", started)
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE")
        _step("analyze", started)
    return {"admin": admin, "manager": manager, "agent": agent_users[0], "store": stores[0].pk,
            "team": teams[0].pk, "agent_id": agent_users[0].pk}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(ids: dict, repeat: int) -> None:
    import datetime as dt

    from django.test import Client

    today = dt.date.today()
    last_90 = {"from": (today - dt.timedelta(days=89)).isoformat(), "to": today.isoformat()}
    last_365 = {"from": (today - dt.timedelta(days=364)).isoformat(), "to": today.isoformat()}
    routes = [
        ("admin", "page: dashboard, last 30 days", "/metrics/", {}),
        ("admin", "page: dashboard, 90 days, one store", "/metrics/", {**last_90, "store": ids["store"]}),
        ("admin", "page: dashboard, 365 days, email", "/metrics/", {**last_365, "channel": "email"}),
        ("manager", "page: dashboard as a manager (one store)", "/metrics/", {}),
        ("agent", "page: dashboard as an agent (own figures)", "/metrics/", {}),
        ("admin", "page: dashboard, team + top-box CSAT", "/metrics/", {"team": ids["team"], "top_box": "1"}),
        ("admin", "csv: per agent, 90 days", "/metrics/export.csv", {**last_90, "by": "agent"}),
        ("admin", "csv: per day, 365 days", "/metrics/export.csv", {**last_365, "by": "day"}),
        ("admin", "api: summary, 30 days", "/api/v1/metrics/summary/", {}),
        ("admin", "api: rows per channel, 365 days", "/api/v1/metrics/rows/", {**last_365, "by": "channel"}),
        ("agent", "api: summary as an agent", "/api/v1/metrics/summary/", {}),
        ("admin", "api: survey comments, 30 days", "/api/v1/metrics/comments/", {}),
    ]
    clients = {}
    for role in ("admin", "manager", "agent"):
        clients[role] = Client()
        clients[role].force_login(ids[role])
    print(f"\n{'route':<48} {'p50 ms':>8} {'p95 ms':>8}  (n={repeat})")
    worst = 0.0
    for role, label, path, params in routes:
        client = clients[role]
        response = client.get(path, params)
        if response.status_code != 200:
            print(f"{label:<48} HTTP {response.status_code}")
            continue
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            client.get(path, params)
            timings.append((time.perf_counter() - started) * 1000)
        p95 = _percentile(timings, 0.95)
        worst = max(worst, p95)
        print(f"{label:<48} {statistics.median(timings):8.1f} {p95:8.1f}", flush=True)
    print(f"\nworst p95: {worst:.1f} ms (target ≤ 200 ms)")


def run(tickets: int, answers: int, days: int, agents: int, repeat: int, keep: bool) -> None:
    from helpdesk.devstack import Stack

    stack = Stack()
    try:
        stack.start_services()
        os.environ.update({
            "DATABASE_URL": bench_database_url(os.environ["DATABASE_URL"], DATABASE),
            "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1", "DJANGO_SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
        })
        print(f"Metrics benchmark: {tickets:,} tickets, {answers:,} survey answers over {days} days, "
              f"database {DATABASE}", flush=True)
        reset_bench_database(os.environ["DATABASE_URL"], DATABASE)
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        # Pages link the stylesheet; the manifest storage would need collectstatic first.
        settings.STORAGES = {**settings.STORAGES, "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

        call_command("migrate", verbosity=0, interactive=False)
        started = time.perf_counter()
        ids = load(tickets, answers, days, agents)
        print(f"  loaded in {time.perf_counter() - started:.1f} s", flush=True)

        from metrics import rollup
        from metrics.models import DailyRollup

        started = time.perf_counter()
        written = rollup.rebuild()
        rollup.set_watermarks_to_now()
        print(f"  rollups rebuilt: {written:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        rollup.refresh_recent()
        print(f"  minute task (today + yesterday + new rows): {(time.perf_counter() - started) * 1000:.0f} ms",
              flush=True)
        print(f"  rollup rows: {DailyRollup.objects.count():,}", flush=True)
        measure(ids, repeat)
        if not keep:
            from django.db import connections

            connections.close_all()
            reset_bench_database(os.environ["DATABASE_URL"], DATABASE)
    finally:
        stack.stop_services()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--answers", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=365, help="history spread over this many days up to today")
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=40, help="requests per route")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    sys.path.insert(0, str(BASE_DIR))
    run(args.tickets, args.answers, args.days, args.agents, args.repeat, args.keep)


if __name__ == "__main__":
    main()
