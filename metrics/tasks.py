"""Celery tasks keeping the rollups current (queue "metrics"; see `metrics.rollup`)."""

from __future__ import annotations

from celery import shared_task

from metrics import rollup


@shared_task(name="metrics.refresh_recent", ignore_result=True)
def refresh_recent() -> int:
    """Every minute (beat): today, yesterday, and the days new raw rows or hooks named."""
    return len(rollup.refresh_recent())


@shared_task(name="metrics.refresh_dirty_days", ignore_result=True)
def refresh_dirty_days() -> int:
    """A few seconds after a hook marked days (a survey answer): recompute them."""
    return len(rollup.refresh_dirty_days())
