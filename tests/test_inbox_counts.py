"""Counts per view in the sidebar: right, capped, cached for a short while per agent, forgotten
after the agent's own bulk action, and scoped to what the agent may see."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import StoreFactory, TicketFactory, UserFactory, agent_of
from tickets.inbox import counts
from tickets.inbox.counts import count_label, count_views, sidebar_counts
from tickets.inbox.params import ViewParams
from tickets.models import SavedView, Ticket

pytestmark = pytest.mark.django_db

INBOX = "/tickets/"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def badges(response) -> dict[str, str]:
    return dict(re.findall(r'data-count-for="([^"]+)">([^<]*)<', response.content.decode()))


def test_sidebar_counts_each_view(client, alice):
    TicketFactory.create_batch(2, status=Ticket.Status.OPEN, assignee=alice)
    TicketFactory.create_batch(3, status=Ticket.Status.NEW)
    TicketFactory(status=Ticket.Status.PENDING)
    TicketFactory(status=Ticket.Status.SOLVED)
    saved = SavedView.objects.create(owner=alice, name="New ones", filters={"status": "new"})
    client.force_login(alice)

    shown = badges(client.get(INBOX))

    assert shown["mine"] == "2"
    assert shown["unassigned"] == "4"
    assert shown["open"] == "6"
    assert shown["pending"] == "1"
    assert shown["on_hold"] == ""  # zero: no badge
    assert shown[f"saved-{saved.pk}"] == "3"


def test_counts_stop_at_the_cap(alice, monkeypatch):
    monkeypatch.setattr(counts, "COUNT_CAP", 5)
    TicketFactory.create_batch(7, status=Ticket.Status.OPEN)

    result = count_views(
        alice, [("open", ViewParams(view="open")), ("solved", ViewParams(view="solved"))]
    )

    assert result == {"open": 5, "solved": 0}
    assert count_label(5) == "4+"
    assert count_label(3) == "3"


def test_every_count_is_one_query_then_cached(alice):
    SavedView.objects.create(owner=alice, name="a", filters={"view": "open"})
    SavedView.objects.create(owner=alice, name="b", filters={"view": "solved"})
    saved = list(SavedView.objects.filter(owner=alice))

    with CaptureQueriesContext(connection) as first:
        sidebar_counts(alice, saved)
    with CaptureQueriesContext(connection) as second:
        sidebar_counts(alice, saved)

    ticket_queries = [q for q in first if "tickets_ticket" in q["sql"]]
    assert len(ticket_queries) == 1
    assert ticket_queries[0]["sql"].count("LIMIT 1000") == 9  # 7 built-in views + 2 saved views
    assert len(second) == 0


def test_a_bulk_action_refreshes_the_agents_counts(client, alice):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    client.force_login(alice)
    assert badges(client.get(INBOX))["mine"] == ""

    client.post("/tickets/bulk/", {"action": "assign", "assignee": "me", "ticket": [ticket.pk]})

    assert badges(client.get(INBOX))["mine"] == "1"


def test_counts_only_count_what_the_agent_may_see(client):
    spain, france = StoreFactory(), StoreFactory()
    TicketFactory.create_batch(2, store=spain, status=Ticket.Status.OPEN)
    TicketFactory.create_batch(3, store=france, status=Ticket.Status.OPEN)
    client.force_login(agent_of(spain))

    assert badges(client.get(INBOX))["open"] == "2"


def test_counts_are_per_agent(alice):
    olga = UserFactory(username="olga", role="agent")
    TicketFactory(status=Ticket.Status.OPEN, assignee=olga)

    assert sidebar_counts(alice, [])["mine"] == 0
    assert sidebar_counts(olga, [])["mine"] == 1
