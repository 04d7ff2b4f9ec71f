"""Routing benchmark: `make bench-routing` (python -m tickets.routing.benchmark).

What automation adds to threading an inbound message. On a fresh database of its own (real
PostgreSQL and Redis, started as `make services` does), one process threads N new-customer
messages through `tickets.ingest.ingest_message` in each of these set-ups and prints messages per
second and database queries per message:

1. no rules and no auto-assigning team (the cost every store without automation pays);
2. R rules for other stores or that do not match (rules are read from the per-process cache);
3. one matching rule setting a team and a tag, and that team assigning round-robin among A agents.

It prints figures; it asserts nothing (tests assert behaviour, see tests/).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from helpdesk.benchmarking import bench_database_url, reset_bench_database

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATABASE = "helpdesk_bench_routing"




def _messages(count: int, prefix: str, text: str):
    from channels_ingest.base import CustomerHandle, NormalizedMessage

    for number in range(count):
        address = f"{prefix}{number}@bench.example"
        yield NormalizedMessage(
            channel="email", external_id=f"{prefix}-{number}@bench.example",
            customer=CustomerHandle(kind="email", value=address, display_name="Bench Buyer", email=address),
            subject="Where is my order?", body_text=text, visible_text=text,
        )


def _measure(
    label: str, account, count: int, prefix: str, text: str = "Hello, where is my parcel?"
) -> tuple[float, float]:
    """Thread `count` messages; print and return (queries per message, ms per message in the hook)."""
    from django.db import connection

    from tickets.ingest import ingest_message

    messages = list(_messages(count, prefix, text))
    # Warm-up: caches (rules, SLA policies, accounts) and connections, as in a running worker.
    for normalized in list(_messages(20, prefix + "-warm", text)):
        ingest_message(account=account, normalized=normalized)
    queries = 0

    def count_query(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    # Time inside the routing hook itself, apart from the rest of threading (the machine may be
    # busy with other work; this figure is the one that isolates what routing costs).
    from tickets.routing import rules as routing_rules

    original = routing_rules.run_rules
    in_rules = 0.0

    def timed_run_rules(*args, **kwargs):
        nonlocal in_rules
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            in_rules += time.perf_counter() - began

    routing_rules.run_rules = timed_run_rules
    try:
        with connection.execute_wrapper(count_query):
            started = time.perf_counter()
            for normalized in messages:
                ingest_message(account=account, normalized=normalized)
            seconds = time.perf_counter() - started
    finally:
        routing_rules.run_rules = original
    rate = count / seconds
    print(f"  {label:<62} {rate:6,.0f} msg/s  {queries / count:5.1f} queries/msg  "
          f"routing hook {1000 * in_rules / count:6.3f} ms/msg")
    return queries / count, 1000 * in_rules / count


def run(messages: int, rules: int, agents: int) -> None:
    from helpdesk.devstack import Stack

    stack = Stack()
    try:
        stack.start_services()
        url = bench_database_url(os.environ["DATABASE_URL"], DATABASE)
        env = {**os.environ, "DATABASE_URL": url, "DJANGO_SECRET_KEY": "bench-only", "LOG_LEVEL": "WARNING"}
        reset_bench_database(url, DATABASE)
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=BASE_DIR, env=env,
                       check=True)
        os.environ.update({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        from tickets.models import AgentProfile, AutomationRule, ChannelAccount, Store, Tag, Team

        store = Store.objects.create(name="Bench", slug="bench")
        other = Store.objects.create(name="Elsewhere", slug="elsewhere")
        account = ChannelAccount.objects.create(store=store, channel="email", provider="imap", display_name="Bench")

        print(f"routing benchmark: {messages} new tickets per set-up, one process, {os.cpu_count()} cores")
        baseline = _measure("1. no rules", account, messages, "plain")

        for number in range(rules):
            if number % 2:
                AutomationRule.objects.create(name=f"Other store {number}", store=other, set_priority=3)
            else:
                AutomationRule.objects.create(name=f"Not matching {number}", text_contains=[f"word{number}"],
                                              set_priority=3)
        unmatched = _measure(f"2. {rules} rules, none matching", account, messages, "unmatched")

        team = Team.objects.create(name="Bench team", auto_assign=True)
        for number in range(agents):
            user = get_user_model().objects.create_user(f"agent{number}")
            profile = AgentProfile.objects.create(user=user, availability="online", capacity=0)
            profile.teams.add(team)
        rule = AutomationRule.objects.create(name="Route", position=0, text_contains=["parcel"], set_team=team)
        rule.add_tags.add(Tag.objects.create(name="where-is-my-order"))
        routed = _measure(f"3. + a matching rule (team, tag), round-robin over {agents} agents", account, messages,
                          "routed")
        # Messages per second move with whatever else the machine runs; queries and the time inside
        # the hook are what routing itself adds.
        print(f"  {rules} idle rules add {unmatched[0] - baseline[0]:+.1f} queries and "
              f"{unmatched[1] - baseline[1]:+.3f} ms per message; a matching rule with round-robin adds "
              f"{routed[0] - baseline[0]:+.1f} queries (the assignment after the commit included) and "
              f"{routed[1] - baseline[1]:+.2f} ms in the hook")
    finally:
        stack.stop_services()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--agents", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    sys.path.insert(0, str(BASE_DIR))
    run(args.messages, args.rules, args.agents)


if __name__ == "__main__":
    main()
