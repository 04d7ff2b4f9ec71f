"""Create or update the preset SLA policies and their office-hours calendar (see tickets/sla/presets.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError

from tickets.sla.presets import install_presets


class Command(BaseCommand):
    help = "Create or update the preset SLA policies (Amazon, eBay, messaging, email) and the office-hours calendar."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--time-zone", default="Europe/Madrid", help="The office's IANA time zone.")
        parser.add_argument("--country", default="ES", help="Public holidays of this country (ISO code), or '' for none.")
        parser.add_argument("--subdivision", default="", help="Region whose holidays also apply, e.g. MD or CT.")

    def handle(self, *args, time_zone: str, country: str, subdivision: str, **options) -> None:
        try:
            ZoneInfo(time_zone)
        except (KeyError, ValueError) as error:
            raise CommandError(f"unknown time zone {time_zone!r}") from error
        if country:
            import holidays

            try:
                holidays.country_holidays(country.upper(), subdiv=subdivision or None)
            except NotImplementedError as error:
                raise CommandError(str(error)) from error
        installed = install_presets(time_zone=time_zone, country=country.upper(), subdivision=subdivision)
        for name in installed:
            if name != "calendar":
                self.stdout.write(f"SLA policy: {name}")
        self.stdout.write(f"Calendar: {installed['calendar']} ({time_zone}, holidays {country or '-'} {subdivision})")
