"""Celery tasks of the chat widget (registered through `channels_ingest.tasks`)."""

from __future__ import annotations

from celery import shared_task

from channels_ingest.widget import conversations


@shared_task(name="widget.forget_abandoned", ignore_result=True)
def forget_abandoned_task() -> int:
    """For beat: delete bot conversations nobody handed to a person and the visitor left long ago."""
    return conversations.forget_abandoned()
