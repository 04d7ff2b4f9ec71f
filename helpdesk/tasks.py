"""Tasks that belong to the installation as a whole."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_CACHE_KEY = "helpdesk:beat-heartbeat"


@shared_task(name="helpdesk.record_heartbeat", ignore_result=True)
def record_heartbeat() -> str:
    """Written by beat every minute through a worker: proves beat, broker and worker all run."""
    stamp = timezone.now().isoformat()
    cache.set(HEARTBEAT_CACHE_KEY, stamp, timeout=None)
    return stamp
