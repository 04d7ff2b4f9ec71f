"""The inbox page runs the same number of queries whatever the number of rows, and the ticket
page's next/previous links come from `neighbours`."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import (
    CustomerFactory,
    StoreFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)
from tickets.inbox.params import ViewParams, inbox_url_for
from tickets.inbox.queries import neighbours
from tickets.models import SavedView, Ticket

pytestmark = pytest.mark.django_db

INBOX = "/tickets/"


def varied_tickets(count: int) -> None:
    """Tickets with a store, customer, assignee, team and tags each: what would cost a query per
    row if anything were read lazily (Django reads a lazy relation once per row, shared or not,
    so a few of each are enough)."""
    stores = [StoreFactory() for _ in range(3)]
    agents = [UserFactory(role="agent") for _ in range(3)]
    teams = [TeamFactory() for _ in range(3)]
    tags = [TagFactory() for _ in range(3)]
    for n in range(count):
        ticket = TicketFactory(
            store=stores[n % 3],
            customer=CustomerFactory(),
            assignee=agents[n % 3],
            team=teams[n % 3],
            status=Ticket.Status.OPEN,
            first_response_due_at=timezone.now() + timedelta(hours=1 + n),
        )
        ticket.tags.add(tags[n % 3], tags[(n + 1) % 3])


def queries_for(client, url: str) -> int:
    cache.clear()  # counts computed, not read from the cache: the worst case
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "url", [INBOX, f"{INBOX}?view=open&sort=sla", f"{INBOX}?view=mine&sort=last_customer"]
)
def test_the_page_runs_the_same_queries_for_5_or_60_rows(client, alice, url):
    SavedView.objects.create(owner=alice, name="Open", filters={"view": "open"})
    client.force_login(alice)
    varied_tickets(5)
    with_five = queries_for(client, url)

    varied_tickets(55)
    with_sixty = queries_for(client, url)

    assert with_five == with_sixty
    assert with_sixty <= 16


def test_the_live_fragment_is_cheaper_still(client, alice):
    client.force_login(alice)
    varied_tickets(5)
    small = queries_for(client, f"{INBOX}?fragment=rows")
    varied_tickets(55)
    large = queries_for(client, f"{INBOX}?fragment=rows")

    assert small == large <= 11


def test_the_fragment_holds_rows_and_counts_only(client, alice):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    client.force_login(alice)

    body = client.get(INBOX, {"view": "open", "fragment": "rows"}).content.decode()

    assert body.lstrip().startswith('<tbody id="inbox-rows">')
    assert f'data-ticket-id="{ticket.pk}"' in body
    assert re.search(r'<li data-count-for="open">1</li>', body)
    assert "<html" not in body


# --- Next / previous ticket ------------------------------------------------------------------


def test_neighbours_follow_the_view_and_its_sort(alice):
    low = TicketFactory(priority=Ticket.Priority.LOW, status=Ticket.Status.OPEN)
    urgent = TicketFactory(priority=Ticket.Priority.URGENT, status=Ticket.Status.OPEN)
    high = TicketFactory(priority=Ticket.Priority.HIGH, status=Ticket.Status.OPEN)
    TicketFactory(priority=Ticket.Priority.URGENT, status=Ticket.Status.SOLVED)  # not in "open"

    query = "view=open&sort=priority"
    assert neighbours(alice, query, urgent) == (None, high.pk)
    assert neighbours(alice, query, high) == (urgent.pk, low.pk)
    assert neighbours(alice, ViewParams.from_query(query), low) == (high.pk, None)
    # From a QueryDict-like mapping too, as the ticket page gets it.
    assert neighbours(alice, {"view": "open", "sort": "priority"}, high) == (urgent.pk, low.pk)
    assert inbox_url_for(query) == "/tickets/?view=open&sort=priority"


def test_a_ticket_that_left_the_view_still_has_neighbours(alice):
    older = TicketFactory(status=Ticket.Status.OPEN)
    middle = TicketFactory(status=Ticket.Status.OPEN)
    newer = TicketFactory(status=Ticket.Status.OPEN)
    Ticket.objects.filter(pk=middle.pk).update(status=Ticket.Status.SOLVED)
    middle.refresh_from_db()

    assert neighbours(alice, "view=open&sort=created", middle) == (newer.pk, older.pk)


def test_neighbours_skip_tickets_the_agent_may_not_see():
    from tests.factories import agent_of

    spain, france = StoreFactory(), StoreFactory()
    agent = agent_of(spain)
    first = TicketFactory(store=spain)
    TicketFactory(store=france)
    last = TicketFactory(store=spain)

    assert neighbours(agent, "sort=created", last) == (None, first.pk)
