"""`manage.py seed_demo`: load the demo helpdesk (two stores, every channel, ~300 tickets).

Safe to run again: it completes an interrupted run and otherwise changes nothing. The work is done
by `tickets.demo.seed_demo`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tickets.demo import DEMO_PASSWORD, USERS, seed_demo
from tickets.events import live_events_suppressed


class Command(BaseCommand):
    help = "Create realistic demo data: stores, channel accounts, agents, customers, orders and tickets. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        verbose = options["verbosity"] >= 1
        log = self.stdout.write if verbose else None
        # Historic demo data needs no live events: nobody is connected yet (`make run` seeds before
        # the web process starts), and ~3,500 Redis round trips would more than double the run time.
        with live_events_suppressed():
            result = seed_demo(log=log)
        if not verbose:
            return
        if result.created_tickets:
            self.stdout.write(self.style.SUCCESS(
                f"Demo data: created {result.created_tickets} tickets "
                f"({result.existing_tickets} were already there) in {result.seconds:.1f} s."
            ))
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Demo data already present ({result.existing_tickets} tickets); nothing to do "
                f"({result.seconds:.1f} s)."
            ))
        width = max(len(name) for name in result.counts)
        for name, count in result.counts.items():
            self.stdout.write(f"  {name.ljust(width)}  {count}")
        users = ", ".join(user.username for user in USERS)
        self.stdout.write(f"Demo logins: {users} (password: {DEMO_PASSWORD!r})")
