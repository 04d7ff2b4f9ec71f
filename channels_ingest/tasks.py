"""Celery tasks of the ingest road. Thin: they take ids and call `channels_ingest.actions`."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from channels_ingest import actions
from channels_ingest.base import TransientError


@shared_task(
    name="ingest.process_event",
    acks_late=True,  # a worker that dies mid-task leaves the message to be delivered again
    reject_on_worker_lost=True,
    autoretry_for=(TransientError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)
def process_event_task(event_pk: int) -> str:
    """Process the event (0: none in particular), then whatever else waits: webhooks send a task
    only when none is already on its way (`actions.enqueue_processing`)."""
    state = actions.process_events(event_pk) if event_pk else "drained"
    if settings.HELPDESK_INGEST_BATCH_SIZE > 1:
        actions.drain_waiting_events()
    return state


@shared_task(name="ingest.requeue_pending", ignore_result=True)
def requeue_pending_task() -> int:
    return actions.requeue_pending_events()


# Tasks defined next to their code; imported here so that Celery's autodiscovery (which reads
# `<app>.tasks`) registers them in every worker.
from channels_ingest import outbound_tasks, shop_tasks  # noqa: E402,F401
from channels_ingest.adapters.amazon_sp import tasks as amazon_sp_tasks  # noqa: E402,F401
from channels_ingest.adapters.ebay import tasks as ebay_tasks  # noqa: E402,F401
from channels_ingest.adapters.imap import tasks as imap_tasks  # noqa: E402,F401
from channels_ingest.widget import tasks as widget_tasks  # noqa: E402,F401
