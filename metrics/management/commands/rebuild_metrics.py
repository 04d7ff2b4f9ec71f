"""Recompute the daily rollups from the raw rows: `manage.py rebuild_metrics [--from D] [--to D]`."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from metrics import rollup


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from error


class Command(BaseCommand):
    help = (
        "Recompute the dashboards' daily rollups from tickets, events, messages, SLA facts and survey "
        "answers. Without --from/--to, the whole history (and the minute task then starts from now)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--from", dest="first", type=_day, help="first day (YYYY-MM-DD), inclusive")
        parser.add_argument("--to", dest="last", type=_day, help="last day (YYYY-MM-DD), inclusive")

    def handle(self, *args, first: dt.date | None = None, last: dt.date | None = None, **options) -> None:
        if first and last and first > last:
            raise CommandError("--from is after --to")
        whole_history = first is None and last is None

        def progress(chunk_first: dt.date, chunk_last: dt.date, written: int) -> None:
            if options["verbosity"] > 1:
                self.stdout.write(f"{chunk_first} – {chunk_last}: {written} rows so far")

        written = rollup.rebuild(first, last, progress=progress)
        if whole_history:
            rollup.set_watermarks_to_now()
        self.stdout.write(self.style.SUCCESS(f"Rollups rebuilt: {written} rows."))
