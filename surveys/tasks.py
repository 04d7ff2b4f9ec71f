"""Celery tasks of the surveys (queue "outbound", by the "surveys.*" route). Thin: they take ids
and call `surveys.actions`."""

from __future__ import annotations

from celery import Task, shared_task

from channels_ingest.base import TransientError
from surveys import actions

SEND_MAX_RETRIES = 6


@shared_task(
    name="surveys.send_survey",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=SEND_MAX_RETRIES,
    ignore_result=True,
)
def send_survey_task(self: Task, survey_id: int) -> str:
    return actions.send_survey(survey_id, final_attempt=self.request.retries >= self.max_retries)


@shared_task(name="surveys.dispatch_due", ignore_result=True)
def dispatch_due_surveys_task() -> int:
    """For beat: surveys whose task was lost (broker down when scheduled) are dispatched again."""
    return actions.dispatch_due_surveys()
