"""Celery tasks of the outbound road (queue "outbound", by the "outbound.*" route). Thin: they take
ids and call `channels_ingest.outbound`.

Celery's autodiscovery imports only `<app>.tasks`, so `channels_ingest.tasks` imports this module.
"""

from __future__ import annotations

from celery import Task, shared_task

from channels_ingest import outbound
from channels_ingest.base import TransientError

SEND_MAX_RETRIES = 6


@shared_task(
    name="outbound.send_message",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientError,),
    retry_backoff=True,
    retry_backoff_max=outbound.RETRY_BACKOFF_MAX_SECONDS,
    max_retries=SEND_MAX_RETRIES,
    ignore_result=True,
)
def send_message_task(self: Task, message_id: int) -> None:
    # On the last retry a passing fault becomes the final answer: failed, with its reason.
    outbound.send_message(message_id, final_attempt=self.request.retries >= self.max_retries)


@shared_task(name="outbound.requeue_stuck", ignore_result=True)
def requeue_stuck_outbound_task() -> int:
    """For beat: re-dispatch replies left queued (broker down at save time, task lost)."""
    return outbound.requeue_stuck_outbound()
