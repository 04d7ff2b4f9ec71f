"""The heartbeat that beat schedules, and the command containers use to judge beat's health."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from helpdesk.tasks import HEARTBEAT_CACHE_KEY, record_heartbeat


@pytest.fixture(autouse=True)
def _no_heartbeat():
    cache.delete(HEARTBEAT_CACHE_KEY)
    yield
    cache.delete(HEARTBEAT_CACHE_KEY)


def test_fresh_heartbeat_is_healthy(capsys):
    record_heartbeat()
    call_command("check_heartbeat", "--max-age", "60")
    assert capsys.readouterr().out.startswith("heartbeat 0 s ago")


def test_missing_heartbeat_is_unhealthy():
    with pytest.raises(CommandError, match="no heartbeat recorded yet"):
        call_command("check_heartbeat")


def test_stale_heartbeat_is_unhealthy():
    cache.set(HEARTBEAT_CACHE_KEY, (timezone.now() - timedelta(minutes=10)).isoformat())
    with pytest.raises(CommandError, match=r"last heartbeat 60\d s ago \(limit 180 s\)"):
        call_command("check_heartbeat", "--max-age", "180")


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [("helpdesk.record_heartbeat", "default"), ("ingest.process_event", "ingest"), ("sla.sweep", "sla")],
)
def test_tasks_are_routed_to_their_area_queue(task_name, queue):
    from helpdesk.celery import app

    route = app.amqp.router.route({}, task_name)
    assert route["queue"].name == queue
    assert route["queue"].routing_key == queue
    assert route["queue"].exchange.name == queue


def test_no_two_queues_share_a_binding():
    from helpdesk.celery import app

    bindings = [(queue.exchange.name, queue.routing_key) for queue in app.conf.task_queues]
    assert len(bindings) == len(set(bindings)) == 5
