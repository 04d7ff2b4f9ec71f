"""The SLA sweep under real Celery beat and workers against the real Redis broker: several beat
processes and workers at once record every warning and breach once, notify once and email once,
and a worker killed in the middle of a sweep leaves nothing half done and nothing repeated."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack

import psycopg2
import pytest
from django.utils import timezone

from tests.factories import CustomerFactory, StoreFactory, TeamFactory, UserFactory
from tests.test_email_send import smtp_server  # noqa: F401  (a fixture)
from tests.workers import (
    BASE_DIR,
    QUEUES_ENVIRONMENT_VARIABLE,
    CeleryWorker,
    _wait_until_ready,
    database_url_for_test,
    isolated_queues,
)
from tickets import actions
from tickets.models import Message, Notification, ResponseFact, SLAPolicy, Ticket, TicketEvent

pytestmark = pytest.mark.django_db(transaction=True)

# A beat process as `celery -A helpdesk beat` runs it, with the isolated queues of this test
# (tests.workers reads them from the environment) and only the SLA sweep, every SWEEP_SECONDS.
BEAT_SCRIPT = (
    "import os, sys; import tests.workers; from helpdesk.celery import app;"
    "app.conf.beat_schedule = {'sla-sweep': {'task': 'sla.sweep', 'schedule': float(os.environ['SWEEP_SECONDS'])}};"
    "app.start(['beat', '--loglevel', 'INFO', '--schedule', sys.argv[1]])"
)


class Stack:
    """Beat processes and workers sharing one set of isolated queues."""

    def __init__(self, stack: ExitStack, tmp_path, names: dict[str, str], env: dict[str, str]):
        self.stack, self.tmp_path, self.names, self.env = stack, tmp_path, names, env
        self.count = 0

    def _environment(self, extra: dict[str, str]) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": database_url_for_test(), "PYTHONUNBUFFERED": "1",
                QUEUES_ENVIRONMENT_VARIABLE: json.dumps(self.names), **self.env, **extra}

    def worker(self, **extra: str) -> CeleryWorker:
        self.count += 1
        log_path = self.tmp_path / f"worker-{self.count}.log"
        command = [
            sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--queues", ",".join(self.names.values()),
            "--pool", "solo", "--loglevel", "INFO", "--hostname", f"sla-{self.count}-{self.names['sla']}@%h",
            "--without-mingle", "--without-gossip", "--include", "tests.workers",
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=BASE_DIR, env=self._environment(extra), stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT)
        worker = CeleryWorker(process=process, queues=self.names, log_path=log_path)
        self.stack.callback(worker.stop)
        _wait_until_ready(worker)
        return worker

    def beat(self, seconds: float = 1.0) -> subprocess.Popen:
        self.count += 1
        log = (self.tmp_path / f"beat-{self.count}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-c", BEAT_SCRIPT, str(self.tmp_path / f"beat-{self.count}.schedule")],
            cwd=BASE_DIR, env=self._environment({"SWEEP_SECONDS": str(seconds)}), stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT,
        )

        def stop() -> None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()

        self.stack.callback(stop)
        return process


@pytest.fixture
def celery_stack(tmp_path, smtp_server):  # noqa: F811
    with ExitStack() as stack:
        names = stack.enter_context(isolated_queues(("sla", "default")))
        env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp_server.port),
               "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
               "HELPDESK_SLA_CONFIG_CHECK_SECONDS": "0"}
        yield Stack(stack, tmp_path, names, env)


@pytest.fixture
def policy():
    return SLAPolicy.objects.create(name="Chat", channels=["chat"], hours=SLAPolicy.Hours.CALENDAR,
                                    first_response_minutes=60, warning_minutes=15)


@pytest.fixture
def people():
    alice = UserFactory(username="alice", role="agent")
    lead = UserFactory(username="lena", role="manager")
    return alice, TeamFactory(name="Chat", lead=lead)


def waiting_tickets(count: int, waited: dt.timedelta, people, step=dt.timedelta(0)) -> list[int]:
    """Tickets whose customer has been waiting `waited` (plus `step` more for each next one)."""
    alice, team = people
    store, now = StoreFactory(), timezone.now()
    ids = []
    for n in range(count):
        ticket = actions.create_ticket(store=store, channel="chat", customer=CustomerFactory(), subject=f"Q{n}")
        actions.assign_ticket(ticket=ticket, assignee=alice, team=team)
        actions.add_message(ticket=ticket, direction=Message.Direction.INBOUND, body_text="Hello?",
                            created_at=now - waited - n * step)
        ids.append(ticket.pk)
    return ids


def sla_event_counts() -> Counter:
    return Counter(TicketEvent.objects.filter(kind__in=["sla_warning", "sla_breached"]).values_list("ticket_id", "kind"))


def wait_for(condition, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_two_beats_and_two_workers_record_each_warning_and_breach_once(celery_stack, policy, people, smtp_server):  # noqa: F811
    breached = waiting_tickets(15, dt.timedelta(minutes=70), people)
    warned = waiting_tickets(15, dt.timedelta(minutes=50), people)
    celery_stack.worker()
    celery_stack.worker()
    celery_stack.beat(0.5)
    celery_stack.beat(0.5)
    # Warned at once, breached some seconds later, while the sweeps keep running.
    both = waiting_tickets(5, dt.timedelta(minutes=60) - dt.timedelta(seconds=10), people)

    expected = Counter({(t, "sla_breached"): 1 for t in breached + both})
    expected.update({(t, "sla_warning"): 1 for t in warned + both})
    wait_for(lambda: sla_event_counts() == expected, what="every warning and breach")
    time.sleep(3)  # a few more sweeps from both beats
    assert sla_event_counts() == expected

    # Assignee and team lead, once per event, in the app and by email.
    assert Notification.objects.count() == 2 * sum(expected.values())
    assert Counter(Notification.objects.values_list("ticket_id", "kind", "recipient__username")) == Counter(
        {(t, kind, who): 1 for (t, kind) in expected for who in ("alice", "lena")}
    )
    wait_for(lambda: len(smtp_server.handler.envelopes) >= Notification.objects.count(), what="the emails")
    time.sleep(1)
    assert len(smtp_server.handler.envelopes) == Notification.objects.count()
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
    assert not Ticket.objects.filter(pk__in=breached + both, sla_next_check_at__isnull=False).exists()


def _someone_waits_for(dsn: str, blocker_pid: int) -> bool:
    with psycopg2.connect(dsn) as watcher, watcher.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [blocker_pid])
        return cursor.fetchone()[0] > 0


@pytest.fixture
def blocker():
    """A connection of its own, to hold row locks while a worker runs into them."""
    connection = psycopg2.connect(database_url_for_test())
    yield connection
    connection.close()  # also rolls back: a failing test must not leave its locks behind


def test_worker_killed_mid_sweep_repeats_nothing(celery_stack, policy, people, blocker):
    # 30 breached tickets, oldest first; the sweep takes them 10 at a time, in deadline order.
    tickets = waiting_tickets(30, dt.timedelta(minutes=70), people, step=dt.timedelta(seconds=1))
    in_time_order = sorted(tickets, key=lambda pk: Ticket.objects.get(pk=pk).sla_next_check_at)
    # Hold the clock of the 15th ticket: the sweep's second batch stops there, mid-transaction.
    with blocker.cursor() as cursor:
        cursor.execute("SELECT id FROM tickets_responsefact WHERE ticket_id = %s FOR UPDATE", [in_time_order[14]])

    worker = celery_stack.worker(HELPDESK_SLA_SWEEP_BATCH_SIZE="10")
    celery_stack.beat(0.5)
    dsn = database_url_for_test()
    wait_for(lambda: _someone_waits_for(dsn, blocker.get_backend_pid()), what="the sweep to block")
    assert sum(sla_event_counts().values()) == 10  # the first batch is committed, the second is not
    worker.process.kill()  # no warm shutdown: the worker dies inside the batch
    worker.process.wait()
    blocker.rollback()

    celery_stack.worker(HELPDESK_SLA_SWEEP_BATCH_SIZE="10")
    expected = Counter({(t, "sla_breached"): 1 for t in tickets})
    wait_for(lambda: sla_event_counts() == expected, what="every breach")
    time.sleep(2)
    assert sla_event_counts() == expected
    assert Notification.objects.filter(kind="sla_breached").count() == 60
    assert ResponseFact.objects.filter(ticket_id__in=tickets, breached_at__isnull=False).count() == 30
