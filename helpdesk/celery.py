"""The Celery application: one per process, configured from Django settings (CELERY_*)."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.on_configure.connect
def _declare_queues(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    # Each queue its own exchange and routing key: with one shared key, a message would be
    # delivered to every queue bound to it, and processed once per queue.
    sender.conf.task_queues = [
        Queue(name, Exchange(name, type="direct"), routing_key=name) for name in settings.CELERY_TASK_QUEUES_NAMES
    ]


app.autodiscover_tasks()
