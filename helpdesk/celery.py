"""The Celery application: one per process, configured from Django settings (CELERY_*)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_prerun
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


@task_prerun.connect
def _check_database_connections(sender=None, **kwargs: object) -> None:
    """What Django does at the start of every request: drop connections that are too old or
    broken (with CONN_HEALTH_CHECKS, the next query pings first), so reused connections stay safe.
    Not for a task applied eagerly: it runs inside its caller's transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


app.autodiscover_tasks()
