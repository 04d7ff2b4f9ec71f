from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        # The SLA configuration is cached per process; changes to it drop the caches.
        from tickets.sla.cache import connect_signals

        connect_signals()
        # So are the automation rules (tickets.routing.rules).
        from tickets.routing import signals as routing_signals

        routing_signals.connect()
