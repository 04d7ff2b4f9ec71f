"""Inbox sorts and keyset pages: every ticket exactly once, in order, across ties and NULLs, while
tickets arrive between pages; backwards too; and each sort's page is an ordered index scan."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import TicketFactory
from tickets.inbox import views as inbox_views
from tickets.inbox.params import ViewParams
from tickets.inbox.queries import SORTS, Cursor, page, sort_of, view_tickets
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

INBOX = "/tickets/"
NOW = timezone.now().replace(microsecond=0)


def ticket_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-ticket-id="(\d+)"', response.content.decode())]


def link(response, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', response.content.decode())
    return html.unescape(found.group(1)) if found else None


def sla_due(ticket: Ticket):
    due = [
        d
        for d in (
            ticket.first_response_due_at,
            ticket.next_response_due_at,
            ticket.resolution_due_at,
        )
        if d
    ]
    return min(due) if due else None


def expected_order(tickets: list[Ticket], sort: str) -> list[int]:
    """The order each sort promises, computed in Python: key (NULLs last), then id."""
    rows = [Ticket.objects.get(pk=t.pk) for t in tickets]
    if sort == "updated":
        key = lambda t: (t.updated_at, t.pk)  # noqa: E731
        return [t.pk for t in sorted(rows, key=key, reverse=True)]
    if sort == "created":
        return [t.pk for t in sorted(rows, key=lambda t: (t.created_at, t.pk), reverse=True)]
    if sort == "priority":
        return [t.pk for t in sorted(rows, key=lambda t: (t.priority, t.pk), reverse=True)]
    if sort == "last_customer":
        keyed = sorted(
            (t for t in rows if t.last_customer_message_at),
            key=lambda t: (t.last_customer_message_at, t.pk),
            reverse=True,
        )
        nulls = sorted(
            (t for t in rows if not t.last_customer_message_at), key=lambda t: t.pk, reverse=True
        )
        return [t.pk for t in [*keyed, *nulls]]
    if sort == "sla":
        keyed = sorted((t for t in rows if sla_due(t)), key=lambda t: (sla_due(t), t.pk))
        nulls = sorted((t for t in rows if not sla_due(t)), key=lambda t: t.pk)
        return [t.pk for t in [*keyed, *nulls]]
    raise AssertionError(sort)


def make_tickets(count: int, offset: int = 0) -> list[Ticket]:
    """Tickets whose sort keys tie in threes and are NULL for every fourth."""
    tickets = []
    for n in range(offset, offset + count):
        moment = NOW - timedelta(minutes=n // 3)
        tickets.append(
            TicketFactory(
                updated_at=moment,
                created_at=moment - timedelta(days=1),
                priority=1 + n % 4,
                last_customer_message_at=None if n % 4 == 0 else moment,
                first_response_due_at=None if n % 4 == 1 else NOW + timedelta(hours=n // 3),
                resolution_due_at=NOW + timedelta(hours=n // 3, minutes=30) if n % 8 == 3 else None,
            )
        )
    return tickets


def walk(client, url: str) -> tuple[list[list[int]], object]:
    pages, response = [], None
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(ticket_ids(response))
        url = link(response, "next")
    return pages, response


@pytest.mark.parametrize("sort", list(SORTS))
def test_every_ticket_once_in_the_sorts_order_forwards_and_back(client, alice, monkeypatch, sort):
    monkeypatch.setattr(inbox_views, "INBOX_PAGE_SIZE", 7)
    tickets = make_tickets(30)
    client.force_login(alice)

    pages, response = walk(client, f"{INBOX}?sort={sort}")

    assert [len(p) for p in pages] == [7, 7, 7, 7, 2]
    assert [pk for p in pages for pk in p] == expected_order(tickets, sort)

    backwards = [pages[-1]]
    url = link(response, "prev")
    while url:
        response = client.get(url)
        backwards.append(ticket_ids(response))
        url = link(response, "prev")
    assert backwards[::-1] == pages


@pytest.mark.parametrize("sort", list(SORTS))
def test_tickets_arriving_between_pages_neither_repeat_nor_hide_others(
    client, alice, monkeypatch, sort
):
    monkeypatch.setattr(inbox_views, "INBOX_PAGE_SIZE", 5)
    tickets = make_tickets(20)
    client.force_login(alice)
    expected = expected_order(tickets, sort)

    seen, url, arrivals = [], f"{INBOX}?sort={sort}", 0
    while url:
        response = client.get(url)
        seen += ticket_ids(response)
        url = link(response, "next")
        # New tickets land everywhere in the order (ties and NULLs included) while the agent reads.
        make_tickets(3, offset=40 + arrivals * 3)
        arrivals += 1

    original = [pk for pk in seen if pk in set(expected)]
    assert original == expected
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("sort", ["last_customer", "sla"])
def test_a_page_that_starts_among_the_nulls_continues_by_id(alice, sort):
    make_tickets(12)
    params = ViewParams(sort=sort)
    everything = expected_order(list(Ticket.objects.all()), sort)

    first = page(alice, params, size=len(everything) - 2)
    rest = page(alice, params, after=first.next_cursor.encode(), size=10)

    assert first.next_cursor.value is None  # the first page ended among the NULLs
    assert [t.pk for t in first.items + rest.items] == everything
    assert rest.next_cursor is None


def test_a_cursor_of_another_sort_starts_from_the_first_page(alice):
    make_tickets(6)
    by_update = page(alice, ViewParams(sort="updated"), size=2)

    by_priority = page(
        alice, ViewParams(sort="priority"), after=by_update.next_cursor.encode(), size=2
    )

    assert by_priority.previous_cursor is None
    assert [t.pk for t in by_priority.items] == expected_order(
        list(Ticket.objects.all()), "priority"
    )[:2]


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage!",
        Cursor("sla", None, 0).encode(),
        Cursor("priority", None, 5).encode(),
        "dXBkYXRlZHwtfDU",
    ],
)
def test_malformed_cursors_are_ignored(alice, token):
    make_tickets(3)
    result = page(alice, ViewParams(sort="priority"), after=token, size=10)
    assert len(result.items) == 3


# --- The database side: ordered index scans ------------------------------------------------


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        text = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_sort")
    return text


VIEWS_WITH_INDEXES = ["open", "mine", "unassigned", "pending", "on_hold", "solved"]


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("view", VIEWS_WITH_INDEXES)
def test_first_and_deep_pages_are_ordered_index_scans(alice, view, sort):
    """No Sort node: the index delivers the sort's order (NULLS LAST included), so a page reads
    only its own rows. With sorting disabled, a missing index would show as a Sort anyway."""
    make_tickets(8)
    order = sort_of(ViewParams(view=view, sort=sort))
    tickets = order.annotate(view_tickets(alice, ViewParams(view=view, sort=sort)))
    first = tickets.order_by(*order.order())[:51]
    # A cursor from the middle of the list on a ticket that has a sort key (the NULL part of
    # the key is paged by its own query, covered by the page-walking tests).
    cursor = next(
        found for found in (
            Cursor.of(order.annotate(Ticket.objects.filter(pk=pk)).get(), order)
            for pk in Ticket.objects.order_by("pk").values_list("pk", flat=True)[3:]
        ) if found.value is not None
    )
    from django.db.models import F, Value

    from tickets.inbox.queries import _RowComparison

    deep = tickets.filter(
        _RowComparison(
            [F(order.key), F("id")],
            "<" if order.descending else ">",
            [Value(cursor.value), Value(cursor.id)],
        )
    ).order_by(*order.order())[:51]
    backwards = tickets.filter(
        _RowComparison(
            [F(order.key), F("id")],
            ">" if order.descending else "<",
            [Value(cursor.value), Value(cursor.id)],
        )
    ).order_by(*order.order(reverse=True))[:51]

    for query in (first, deep, backwards):
        explained = plan(query)
        assert "Sort" not in explained.replace("Sort Key", ""), explained
        assert "Index" in explained, explained


@pytest.mark.parametrize("sort", ["last_customer", "created", "priority", "sla"])
def test_a_view_over_every_status_reads_each_statuss_index(alice, sort):
    """The "all tickets" view in a sort without an index over all tickets: one ordered index
    scan per status, each reading at most a page, merged; never a scan of the whole table."""
    from django.test.utils import CaptureQueriesContext

    make_tickets(8)
    with CaptureQueriesContext(connection) as captured:
        result = page(alice, ViewParams(view="all", sort=sort), size=3)
    union = next(q["sql"] for q in captured if "UNION ALL" in q["sql"])

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + union)
        explained = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "Seq Scan" not in explained, explained
    assert explained.count("Index") >= len(Ticket.Status.values), explained
    assert len(result.items) == 3
