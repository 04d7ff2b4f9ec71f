"""Exit non-zero unless beat's heartbeat task was run by a worker recently (container health)."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from helpdesk.tasks import HEARTBEAT_CACHE_KEY


class Command(BaseCommand):
    help = "Check that Celery beat and a worker are running: the heartbeat must be fresh."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--max-age", type=int, default=180, help="seconds (default 180)")

    def handle(self, *args, max_age: int, **options) -> None:
        stamp = cache.get(HEARTBEAT_CACHE_KEY)
        if stamp is None:
            raise CommandError("no heartbeat recorded yet: is beat running, and a worker?")
        age = (timezone.now() - datetime.fromisoformat(stamp)).total_seconds()
        if age > max_age:
            raise CommandError(f"last heartbeat {age:.0f} s ago (limit {max_age} s)")
        self.stdout.write(f"heartbeat {age:.0f} s ago")
