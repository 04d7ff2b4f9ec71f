"""The Celery application: one per process, configured from Django settings (CELERY_*)."""

from __future__ import annotations

import os

from celery import Celery, Task
from celery.signals import task_prerun
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

class DeclaringTask(Task):
    """Declares its queue whenever it is sent. With Redis, a message sent to an exchange that no
    queue is bound to yet (a fresh Redis that no worker has consumed from) is dropped without an
    error; declaring binds the queue first. kombu remembers what a connection declared, so this
    costs one round trip per queue per connection."""

    def apply_async(self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None,
                    shadow=None, **options):
        if "declare" not in options:
            route = self.app.amqp.router.route(dict(options), self.name, args, kwargs)
            options["declare"] = [route["queue"]]
        return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)


app = Celery("helpdesk", task_cls=DeclaringTask)
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
# Task modules that are not an app's own tasks.py.
app.autodiscover_tasks(["tickets.sla", "tickets.routing"])
