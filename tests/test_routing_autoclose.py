"""Solved tickets close by themselves after their store's number of days; the beat task does it
in a real Celery worker."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from tests.factories import StoreFactory, TicketFactory
from tests.workers import celery_worker_process  # noqa: F401  (fixture)
from tickets.models import Ticket, TicketEvent
from tickets.routing.autoclose import auto_close_solved, close_solved_ticket
from tickets.routing.tasks import auto_close_solved_task


def solved(store, days_ago: float, **fields) -> Ticket:
    when = timezone.now() - timedelta(days=days_ago)
    return TicketFactory(store=store, status=Ticket.Status.SOLVED, solved_at=when, **fields)


def status_of(ticket: Ticket) -> str:
    return Ticket.objects.values_list("status", flat=True).get(pk=ticket.pk)


@pytest.mark.django_db
def test_solved_tickets_older_than_the_stores_setting_are_closed():
    store = StoreFactory(slug="casa-lumbre", auto_close_solved_after_days=3)
    old, recent = solved(store, 3.5), solved(store, 2)
    still_open = TicketFactory(store=store, status=Ticket.Status.OPEN)

    assert auto_close_solved() == 1

    assert (status_of(old), status_of(recent), status_of(still_open)) == ("closed", "solved", "open")
    old.refresh_from_db()
    assert old.closed_at is not None
    event = TicketEvent.objects.get(ticket=old, kind=TicketEvent.Kind.STATUS_CHANGED)
    assert event.actor is None and event.data == {"from": "solved", "to": "closed"}


@pytest.mark.django_db
def test_each_store_has_its_own_delay_and_zero_never_closes():
    quick = StoreFactory(slug="quick", auto_close_solved_after_days=1)
    slow = StoreFactory(slug="slow", auto_close_solved_after_days=10)
    never = StoreFactory(slug="never", auto_close_solved_after_days=0)
    tickets = {name: solved(store, 5) for name, store in (("quick", quick), ("slow", slow), ("never", never))}

    assert auto_close_solved() == 1

    assert {name: status_of(t) for name, t in tickets.items()} == {
        "quick": "closed", "slow": "solved", "never": "solved",
    }


@pytest.mark.django_db
def test_a_ticket_reopened_since_it_was_selected_stays_open():
    store = StoreFactory(slug="casa-lumbre", auto_close_solved_after_days=3)
    ticket = solved(store, 4)
    cutoff = timezone.now() - timedelta(days=3)
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.OPEN, solved_at=None)

    assert close_solved_ticket(ticket.pk, cutoff) is False
    assert status_of(ticket) == "open"


@pytest.mark.django_db
def test_many_tickets_are_closed_in_batches():
    store = StoreFactory(slug="casa-lumbre", auto_close_solved_after_days=1)
    tickets = [solved(store, 2) for _ in range(7)]

    assert auto_close_solved(batch_size=3) == 7
    assert {status_of(t) for t in tickets} == {"closed"}
    assert auto_close_solved(batch_size=3) == 0


def test_beat_runs_the_task_on_the_default_queue():
    schedule = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "routing.auto_close_solved" in schedule
    assert "routing.assign_waiting" in schedule
    assert auto_close_solved_task.name == "routing.auto_close_solved"
    # No route of its own: the default queue, which every worker consumes.
    assert not any(pattern.startswith("routing") for pattern in settings.CELERY_TASK_ROUTES)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_closes_them(celery_worker_process):  # noqa: F811
    worker = celery_worker_process(queues=("default",), include=("tickets.routing.tasks",))
    store = StoreFactory(slug="casa-lumbre", auto_close_solved_after_days=2)
    old = solved(store, 3)

    auto_close_solved_task.delay()

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and status_of(old) != "closed":
        time.sleep(0.1)
    assert status_of(old) == "closed", worker.log()[-3000:]
