"""Inbox views and filters: which tickets each built-in view holds, filters combined, visibility,
and the page's markup (rows, sidebar, search box)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import (
    StoreFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
    agent_of,
)
from tickets.models import Channel, ResponseFact, Ticket

pytestmark = pytest.mark.django_db

INBOX = "/tickets/"


def ticket_ids(response) -> list[int]:
    assert response.status_code == 200
    return sorted(
        int(pk) for pk in re.findall(r'data-ticket-id="(\d+)"', response.content.decode())
    )


def ids(*tickets) -> list[int]:
    return sorted(t.pk for t in tickets)


@pytest.fixture
def world(alice):
    """One ticket per situation an agent meets."""
    other_agent = UserFactory(username="olga", role="agent")
    now = timezone.now()
    tickets = {
        "new_unassigned": TicketFactory(status=Ticket.Status.NEW),
        "open_mine": TicketFactory(status=Ticket.Status.OPEN, assignee=alice),
        "open_theirs": TicketFactory(status=Ticket.Status.OPEN, assignee=other_agent),
        "pending_mine": TicketFactory(status=Ticket.Status.PENDING, assignee=alice),
        "on_hold": TicketFactory(status=Ticket.Status.ON_HOLD),
        "solved_mine": TicketFactory(status=Ticket.Status.SOLVED, assignee=alice),
        "closed": TicketFactory(status=Ticket.Status.CLOSED),
        "spam": TicketFactory(status=Ticket.Status.CLOSED, is_spam=True),
        "breached": TicketFactory(
            status=Ticket.Status.OPEN, first_response_due_at=now - timedelta(minutes=5)
        ),
        "at_risk": TicketFactory(
            status=Ticket.Status.OPEN, first_response_due_at=now + timedelta(minutes=5)
        ),
    }
    for name, warn in (
        ("breached", now - timedelta(minutes=20)),
        ("at_risk", now - timedelta(minutes=1)),
    ):
        ticket = tickets[name]
        ResponseFact.objects.create(
            ticket=ticket,
            store=ticket.store,
            kind=ResponseFact.Kind.FIRST_RESPONSE,
            started_at=now - timedelta(hours=1),
            due_at=ticket.first_response_due_at,
            warn_at=warn,
        )
    return tickets


@pytest.mark.parametrize(
    "view, expected",
    [
        ("mine", ["open_mine", "pending_mine"]),
        ("unassigned", ["new_unassigned", "on_hold", "breached", "at_risk"]),
        (
            "open",
            [
                "new_unassigned",
                "open_mine",
                "open_theirs",
                "pending_mine",
                "on_hold",
                "breached",
                "at_risk",
            ],
        ),
        ("pending", ["pending_mine"]),
        ("on_hold", ["on_hold"]),
        ("solved", ["solved_mine"]),
        ("sla_at_risk", ["breached", "at_risk"]),
        ("sla_breached", ["breached"]),
        ("spam", ["spam"]),
        (
            "all",
            [
                "new_unassigned",
                "open_mine",
                "open_theirs",
                "pending_mine",
                "on_hold",
                "solved_mine",
                "closed",
                "breached",
                "at_risk",
            ],
        ),
    ],
)
def test_each_view_holds_its_tickets(client, alice, world, view, expected):
    client.force_login(alice)

    assert ticket_ids(client.get(INBOX, {"view": view})) == ids(*(world[name] for name in expected))


def test_filters_combine_with_each_other_and_with_the_view(client, alice):
    spain, france = StoreFactory(name="Spain"), StoreFactory(name="France")
    returns, vip = TeamFactory(name="Returns"), TagFactory(name="vip")
    match = TicketFactory(store=spain, channel=Channel.WHATSAPP, team=returns, language="es")
    match.tags.add(vip)
    near_misses = [
        TicketFactory(store=france, channel=Channel.WHATSAPP, team=returns, language="es"),
        TicketFactory(store=spain, channel=Channel.EMAIL, team=returns, language="es"),
        TicketFactory(store=spain, channel=Channel.WHATSAPP, team=None, language="es"),
        TicketFactory(store=spain, channel=Channel.WHATSAPP, team=returns, language="ro"),
        TicketFactory(store=spain, channel=Channel.WHATSAPP, team=returns, language="es"),  # no tag
    ]
    near_misses[0].tags.add(vip)
    solved_match = TicketFactory(
        store=spain, channel=Channel.WHATSAPP, team=returns, language="es", status="solved"
    )
    solved_match.tags.add(vip)
    client.force_login(alice)
    everything = {
        "store": spain.pk,
        "channel": "whatsapp",
        "team": returns.pk,
        "tag": vip.pk,
        "language": "es",
    }

    assert ticket_ids(client.get(INBOX, everything)) == ids(match, solved_match)
    assert ticket_ids(client.get(INBOX, {**everything, "view": "open"})) == ids(match)
    assert ticket_ids(client.get(INBOX, {**everything, "view": "solved"})) == ids(solved_match)
    assert ticket_ids(client.get(INBOX, {"store": spain.pk, "tag": vip.pk})) == ids(
        match, solved_match
    )
    assert len(ticket_ids(client.get(INBOX, {"store": spain.pk}))) == 6


def test_bad_filter_values_are_dropped_not_fatal(client, alice):
    ticket = TicketFactory()
    client.force_login(alice)

    response = client.get(
        INBOX, {"view": "nope", "store": "x", "tag": "-3", "sort": "random", "language": "xx"}
    )

    assert ticket_ids(response) == [ticket.pk]


def test_views_only_hold_what_the_agent_may_see(client):
    spain, france = StoreFactory(), StoreFactory()
    spanish_agent = agent_of(spain)
    mine = TicketFactory(store=spain, status=Ticket.Status.OPEN)
    hidden = TicketFactory(store=france, status=Ticket.Status.OPEN)
    assigned_elsewhere = TicketFactory(
        store=france, status=Ticket.Status.OPEN, assignee=spanish_agent
    )
    client.force_login(spanish_agent)

    assert ticket_ids(client.get(INBOX, {"view": "open"})) == ids(mine, assigned_elsewhere)
    assert ticket_ids(client.get(INBOX, {"store": france.pk})) == ids(assigned_elsewhere)
    body = client.get(INBOX, {"view": "open"}).content.decode()
    assert f"#{hidden.pk}<" not in body
    # The store filter offers only the agent's stores.
    assert (
        f'<option value="{france.pk}"' not in body.split('id="id_store"')[1].split("</select>")[0]
    )


def test_rows_follow_the_page_contract_and_link_back_to_the_view(client, alice):
    ticket = TicketFactory(subject="Broken mug")
    client.force_login(alice)

    body = client.get(INBOX, {"view": "open", "sort": "created"}).content.decode()

    row = re.search(r"<tr data-ticket-row [^>]+>", body).group(0)
    assert f'data-ticket-id="{ticket.pk}"' in row
    assert f'data-url="/tickets/{ticket.pk}/?from=view%3Dopen%26sort%3Dcreated"' in row
    assert 'id="inbox-search"' in body
    assert 'name="ticket"' in body and 'id="select-all"' in body
    assert "helpdesk/inbox.js" in body


def test_sidebar_marks_the_current_view(client, alice, world):
    client.force_login(alice)

    body = client.get(INBOX, {"view": "pending"}).content.decode()

    current = re.findall(r'<a class="view-link" href="([^"]+)" aria-current="page">', body)
    assert current == ["/tickets/?view=pending"]


def test_search_shows_a_plain_message_until_search_is_installed(client, alice, monkeypatch):
    import sys

    TicketFactory(subject="Parcel lost")
    monkeypatch.setitem(sys.modules, "tickets.search", None)  # importing it raises ImportError
    client.force_login(alice)

    response = client.get(INBOX, {"q": "parcel"})

    assert "Full-text search is not available yet." in response.content.decode()
    assert ticket_ids(response) == []


def test_search_results_render_with_their_snippet(client, alice, monkeypatch):
    from dataclasses import dataclass

    from django.utils.safestring import mark_safe

    ticket = TicketFactory(subject="Parcel lost")

    @dataclass
    class Row:
        ticket: Ticket
        rank: float
        snippet_html: str
        subject_html: str

    @dataclass
    class Results:
        rows: list
        next_cursor: str | None = None

    calls = []

    def search_tickets(user, query, *, limit=50, cursor=None):
        calls.append((user, query, cursor))
        return Results(
            [
                Row(
                    ticket,
                    1.0,
                    mark_safe("my <mark>parcel</mark> is lost"),
                    mark_safe("<mark>Parcel</mark> lost"),
                )
            ],
            next_cursor="abc",
        )

    import tickets.inbox.views as inbox_views

    monkeypatch.setattr(
        inbox_views, "_search", lambda user, q, cursor: search_tickets(user, q, cursor=cursor)
    )
    client.force_login(alice)

    body = client.get(INBOX, {"q": "parcel"}).content.decode()

    assert calls == [(alice, "parcel", None)]
    assert f'data-ticket-id="{ticket.pk}"' in body
    assert "my <mark>parcel</mark> is lost" in body
    assert "<mark>Parcel</mark> lost</a>" in body
    assert 'rel="next" href="/tickets/?q=parcel&amp;cursor=abc"' in body


def test_search_box_renders_full_text_results(client, alice):
    wanted = TicketFactory(subject="Parcel lost in transit")
    TicketFactory(subject="Invoice request")
    client.force_login(alice)

    response = client.get(INBOX, {"q": "parcel"})

    body = response.content.decode()
    assert ticket_ids(response) == [wanted.pk]
    assert "<mark>" in body
    assert 'value="parcel"' in body


def test_what_customers_wrote_is_escaped_in_the_rows(client, alice):
    from tests.factories import CustomerFactory

    TicketFactory(
        subject="<script>alert(1)</script>",
        customer=CustomerFactory(name="<img src=x onerror=alert(1)>"),
    )
    client.force_login(alice)

    body = client.get(INBOX).content.decode()

    assert "<script>alert(1)" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
