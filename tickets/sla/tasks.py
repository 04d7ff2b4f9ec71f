"""Celery tasks of the SLA engine and the notifications. Thin: they call the functions."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="sla.sweep", ignore_result=True)
def sweep_task() -> dict:
    """Record due warnings and breaches (on the beat schedule, every minute)."""
    from tickets.sla.sweep import sweep

    result = sweep()
    if result.tickets:
        logger.info(
            "SLA sweep: %d tickets checked, %d warnings, %d breaches, %d already recorded",
            result.tickets, result.warnings, result.breaches, result.duplicates_skipped,
        )
    return {"tickets": result.tickets, "warnings": result.warnings, "breaches": result.breaches}


@shared_task(name="notify.email", ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_notifications(notification_ids: list[int]) -> int:
    """Email notifications not emailed yet (SMTP failures are retried)."""
    from tickets.notify import send_emails

    return send_emails(notification_ids)
