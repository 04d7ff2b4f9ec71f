"""What visibility costs (`tickets.access`): the same lists read by people who see every store and by
people limited to their stores, teams and assigned tickets, at scale.

Fills a database of its own (`helpdesk_bench_access`, on the embedded PostgreSQL or DATABASE_URL's
server; made afresh each run unless --reuse finds it filled to the same size) with six stores, a
team per store, TICKETS tickets, TICKETS/3 customers and TICKETS/2 orders, then prints p50/p95 of:
the inbox's first page of open tickets, the tickets, customers and orders API lists, a customer
and an order by id, for an administrator, an agent with no store (every store), an agent of one
store, and an agent of one store who is also in another store's team and assigned tickets in a
third. Usage: `python -m tickets.access_benchmark --tickets 1000000` (small: --tickets 100000).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from helpdesk.benchmarking import insert_select, open_page_bench_database, reset_bench_database

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = "helpdesk_bench_access"
STORES = 6
TARGET_MS = 50


def log(message: str) -> None:
    print(message, flush=True)


def load(tickets: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from tickets.models import AgentProfile, Store, Team

    User = get_user_model()
    stores = [Store.objects.create(name=f"Store {n}", slug=f"store-{n}") for n in range(STORES)]
    teams = [Team.objects.create(name=f"Team {n}", store=store) for n, store in enumerate(stores)]
    agents = []
    for n in range(30):
        user = User.objects.create_user(f"bench-agent-{n}", password=None)
        AgentProfile.objects.create(user=user, role=AgentProfile.Role.AGENT).stores.add(stores[n % STORES])
        agents.append(user.pk)
    admin = User.objects.create_user("bench-admin", password=None, is_superuser=True, is_staff=True)
    AgentProfile.objects.create(user=admin, role=AgentProfile.Role.ADMIN)
    everywhere = User.objects.create_user("bench-everywhere", password=None)
    AgentProfile.objects.create(user=everywhere, role=AgentProfile.Role.AGENT)
    one = User.objects.create_user("bench-one-store", password=None)
    AgentProfile.objects.create(user=one, role=AgentProfile.Role.AGENT).stores.add(stores[0])
    mixed = User.objects.create_user("bench-mixed", password=None)
    profile = AgentProfile.objects.create(user=mixed, role=AgentProfile.Role.AGENT)
    profile.stores.add(stores[0])
    profile.teams.add(teams[1])

    store_ids = [s.pk for s in stores]
    team_ids = [t.pk for t in teams]
    params = {"tickets": tickets, "customers": max(tickets // 3, 1), "orders": max(tickets // 2, 1),
              "stores": store_ids, "teams": team_ids, "agents": agents, "mixed": mixed.pk, "n": STORES}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SELECT setseed(0.17)")
        insert_select(cursor, "tickets_customer", {
            "id": "g", "name": "'Customer ' || g", "email": "'c' || g || '@example.com'",
            "created_at": "now()", "updated_at": "now()",
        }, "generate_series(1, %(customers)s) AS g", params)
        # A customer buys and writes in one store (its id decides which).
        insert_select(cursor, "tickets_order", {
            "id": "g", "store_id": "(%(stores)s::int[])[1 + mod(c, %(n)s)]", "customer_id": "c",
            "marketplace": "'shopify'", "external_id": "'o' || g", "number": "'#' || g", "status": "'paid'",
            "currency": "'EUR'", "total": "49.90", "placed_at": "now() - g * interval '1 minute'",
            "billing_address": "'{}'::jsonb", "shipping_address": "'{}'::jsonb", "updated_at": "now()",
        }, "(SELECT g, 1 + mod(g * 7919::bigint, %(customers)s) AS c FROM generate_series(1, %(orders)s) AS g) AS x",
            params)
        insert_select(cursor, "tickets_ticket", {
            "id": "g", "customer_id": "c", "store_id": "(%(stores)s::int[])[1 + mod(c, %(n)s)]",
            "channel": "'email'", "subject": "'Question ' || g",
            "status": "(ARRAY['new','open','pending','solved','closed','closed'])[1 + mod(g * 13, 6)]",
            "priority": "2",
            "team_id": "CASE WHEN mod(g, 3) = 0 THEN (%(teams)s::int[])[1 + mod(g, %(n)s)] END",
            "assignee_id": "CASE WHEN mod(g, 997) = 0 THEN %(mixed)s "
                           "WHEN mod(g, 2) = 0 THEN (%(agents)s::int[])[1 + mod(g * 31, 30)] END",
            "created_at": "now() - (1 - g::float8 / %(tickets)s) * interval '730 days'",
            "updated_at": "now() - (1 - g::float8 / %(tickets)s) * interval '730 days'",
            "is_spam": "false",
        }, "(SELECT g, 1 + mod(g * 104729::bigint, %(customers)s) AS c FROM generate_series(1, %(tickets)s) AS g) AS x",
            params)
        # A third of the tickets are linked to their customer's first order.
        cursor.execute("""INSERT INTO tickets_ticket_orders (ticket_id, order_id)
                          SELECT t.id, o.id FROM tickets_ticket t
                          JOIN (SELECT DISTINCT ON (customer_id) customer_id, id FROM tickets_order
                                ORDER BY customer_id, id) o ON o.customer_id = t.customer_id
                          WHERE mod(t.id, 3) = 1""")
        for table in ("tickets_customer", "tickets_order", "tickets_ticket"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE")
    log(f"  loaded {tickets:,} tickets in {time.perf_counter() - started:.0f} s")


def loaded_tickets() -> int:
    from tickets.models import Ticket

    return Ticket.objects.count()


def measure(repeat: int) -> list[str]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from tickets import access
    from tickets.benchmark_inbox import Report, _get
    from tickets.models import Customer, Order

    User = get_user_model()
    people = {
        "admin": "bench-admin", "no store (every store)": "bench-everywhere",
        "one store": "bench-one-store", "one store + team + assigned": "bench-mixed",
    }
    clients = {}
    for label, username in people.items():
        clients[label] = Client()
        clients[label].force_login(User.objects.get(username=username))
    one = User.objects.get(username="bench-one-store")
    customer = access.visible_customers(one).order_by("-id").first()
    order = access.visible_orders(one).order_by("-id").first()
    report = Report(repeat)
    inbox = reverse("tickets:inbox")
    for label, client in clients.items():
        report.time(f"inbox ?view=open, {label}", _get(client, inbox + "?view=open"), TARGET_MS)
    for label, client in clients.items():
        report.time(f"API tickets ?status=open, {label}", _get(client, "/api/v1/tickets/?status=open"), TARGET_MS)
    for label in ("admin", "one store", "one store + team + assigned"):
        report.time(f"API customers (first page), {label}", _get(clients[label], "/api/v1/customers/"), TARGET_MS)
        report.time(f"API orders (first page), {label}", _get(clients[label], "/api/v1/orders/"), TARGET_MS)
    report.time("API customer by id, one store", _get(clients["one store"], f"/api/v1/customers/{customer.pk}/"),
                TARGET_MS)
    report.time("API order by id, one store", _get(clients["one store"], f"/api/v1/orders/{order.pk}/"), TARGET_MS)

    # The queries alone (no page rendering): what the visibility condition adds to each list.
    from tickets.models import Ticket

    for label, username in people.items():
        user = User.objects.select_related("agent_profile").get(username=username)
        access.visible_store_ids(user)
        report.time(f"SQL 50 open tickets, newest activity, {label}", lambda u=user: list(
            access.visible_tickets(u).filter(status__in=Ticket.OPEN_STATUSES).order_by("-updated_at", "-id")
            .values_list("pk", flat=True)[:50]), TARGET_MS)
        report.time(f"SQL 50 customers by name, {label}", lambda u=user: list(
            access.visible_customers(u).order_by("name", "pk").values_list("pk", flat=True)[:50]), TARGET_MS)
        report.time(f"SQL 50 orders, newest, {label}", lambda u=user: list(
            access.visible_orders(u).order_by("-placed_at", "-pk").values_list("pk", flat=True)[:50]), TARGET_MS)
        report.time(f"SQL one customer by id, {label}", lambda u=user: access.visible_customers(u).filter(
            pk=customer.pk).exists(), TARGET_MS)

    def memberships():
        user = User.objects.select_related("agent_profile").get(username="bench-mixed")
        access.visible_store_ids(user)

    report.time("memberships of one user (read once per request)", memberships, TARGET_MS)
    log(f"  ({Customer.objects.count():,} customers, {Order.objects.count():,} orders)")
    return report.missed


def run(tickets: int, repeat: int, reuse: bool) -> None:
    from helpdesk.devstack import Stack

    stack = Stack()
    try:
        stack.start_services()
        log(f"Visibility benchmark: {tickets:,} tickets, database {DATABASE}")
        fresh = open_page_bench_database(DATABASE, reuse=reuse)
        from django.core.management import call_command

        if not fresh and loaded_tickets() != tickets:
            from django.db import connections

            connections.close_all()
            reset_bench_database(os.environ["DATABASE_URL"], DATABASE)
            call_command("migrate", verbosity=0, interactive=False)
            fresh = True
        if fresh:
            load(tickets)
        missed = measure(repeat)
        log(f"\n{len(missed)} measurement(s) over target" + (": " + "; ".join(missed) if missed else ""))
    finally:
        from django.db import connections

        connections.close_all()
        stack.stop_services()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30, help="requests per measurement")
    parser.add_argument("--reuse", action="store_true", help="measure on the kept database when it holds as many tickets")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    sys.path.insert(0, str(BASE_DIR))
    run(args.tickets, args.repeat, args.reuse)


if __name__ == "__main__":
    main()
