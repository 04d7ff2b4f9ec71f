"""Assignments running at the same moment, each in its own thread with its own PostgreSQL
connection and transaction: turns stay fair, capacity is never exceeded (also for an agent of two
teams), and an agent going offline mid-stream ends with no open ticket."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable

import pytest
from django.db import connection

from tests.factories import TeamFactory, TicketFactory
from tests.routing_helpers import make_agent
from tickets.models import AgentProfile, Team, Ticket
from tickets.routing.assignment import auto_assign
from tickets.routing.availability import set_availability

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def run_together(jobs: Iterable[Callable[[], object]]) -> list[object]:
    """Run the jobs on separate threads released at the same instant; re-raise any failure."""
    jobs = list(jobs)
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)
    errors: list[BaseException] = []

    def worker(index: int, job: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = job()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an assignment thread hung"
    if errors:
        raise errors[0]
    return results


def assign_each(ticket_ids: list[int]) -> Callable[[], list]:
    return lambda: [auto_assign(Ticket(pk=pk)) for pk in ticket_ids]


def shares(ids: list[int], parts: int) -> list[list[int]]:
    return [ids[i::parts] for i in range(parts)]


def open_counts(team: Team | None = None) -> Counter:
    tickets = Ticket.objects.filter(status__in=Ticket.OPEN_STATUSES, assignee__isnull=False)
    if team is not None:
        tickets = tickets.filter(team=team)
    return Counter(tickets.values_list("assignee__username", flat=True))


def test_simultaneous_arrivals_are_spread_evenly():
    team = TeamFactory(name="Soporte", auto_assign=True)
    for name in ("ana", "bea", "carla"):
        make_agent(name, team)
    ids = [TicketFactory(team=team, status=Ticket.Status.NEW).pk for _ in range(48)]

    run_together(assign_each(share) for share in shares(ids, THREADS))

    assert open_counts(team) == {"ana": 16, "bea": 16, "carla": 16}


def test_simultaneous_arrivals_never_exceed_capacity():
    team = TeamFactory(name="Soporte", auto_assign=True)
    make_agent("ana", team, capacity=3)
    make_agent("bea", team, capacity=5)
    ids = [TicketFactory(team=team, status=Ticket.Status.NEW).pk for _ in range(24)]

    run_together(assign_each(share) for share in shares(ids, THREADS))

    assert open_counts(team) == {"ana": 3, "bea": 5}
    assert Ticket.objects.filter(pk__in=ids, assignee__isnull=True).count() == 16


def test_an_agent_of_two_teams_stays_within_capacity_when_both_assign_at_once():
    chat, mail = TeamFactory(name="Chat", auto_assign=True), TeamFactory(name="Mail", auto_assign=True)
    make_agent("shared", chat, mail, capacity=6)
    chat_ids = [TicketFactory(team=chat, status=Ticket.Status.NEW).pk for _ in range(12)]
    mail_ids = [TicketFactory(team=mail, status=Ticket.Status.NEW).pk for _ in range(12)]

    jobs = [assign_each(share) for share in shares(chat_ids, THREADS // 2)]
    jobs += [assign_each(share) for share in shares(mail_ids, THREADS // 2)]
    run_together(jobs)

    assert open_counts() == {"shared": 6}


def test_an_agent_going_offline_during_assignments_ends_with_no_open_ticket():
    team = TeamFactory(name="Chat", auto_assign=True, offline_policy=Team.OfflinePolicy.RETURN)
    leaving = make_agent("leaving", team)
    make_agent("staying", team)
    ids = [TicketFactory(team=team, status=Ticket.Status.NEW).pk for _ in range(40)]

    jobs = [assign_each(share) for share in shares(ids, THREADS - 1)]
    jobs.append(lambda: set_availability(agent=leaving, availability=AgentProfile.Availability.OFFLINE))
    run_together(jobs)

    # Whatever the interleaving: the leaver holds nothing open, and nothing is lost.
    assert Ticket.objects.filter(assignee=leaving, status__in=Ticket.OPEN_STATUSES).count() == 0
    assert Ticket.objects.filter(pk__in=ids).count() == 40
