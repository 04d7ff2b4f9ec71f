"""The API's ticket list searches with `?q=`, within what the caller may see, combined with the
other filters, newest activity first, keyset-paginated like every list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import CustomerFactory, StoreFactory, UserFactory, agent_of
from tickets import actions
from tickets.models import Message, Ticket

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def ticket(store, subject: str, text: str = "", *, minutes: int = 0, language: str = "es") -> Ticket:
    customer = CustomerFactory(name="Lucía Gómez", email=f"lucia{minutes}@example.es", language=language)
    created = actions.create_ticket(store=store, channel="email", customer=customer, subject=subject,
                                    language=language, created_at=START + timedelta(minutes=minutes))
    if text:
        actions.add_message(ticket=created, direction=Message.Direction.INBOUND, body_text=text,
                            created_at=START + timedelta(minutes=minutes + 1))
    return created


@pytest.fixture(params=["frequent", "rare"])
def either_plan(request, monkeypatch):
    """The API finds the same tickets whichever way the words' frequency sends the query."""
    from tickets.search import query

    monkeypatch.setattr(query, "is_frequent", lambda terms: request.param == "frequent")


def test_q_lists_the_matching_tickets_newest_activity_first(client_for, either_plan):
    admin = UserFactory(username="api-search-admin", role="admin")
    store = StoreFactory(slug="api-search")
    older = ticket(store, "Pedido", "El envío no llegó", minutes=0)
    newer = ticket(store, "Envío retrasado", minutes=10)
    ticket(store, "Factura", "Necesito la factura", minutes=20)

    assert client_for(admin).ids(TICKETS, {"q": "envio"}) == [newer.pk, older.pk]


def test_q_combines_with_the_other_filters(client_for, either_plan):
    admin = UserFactory(username="api-search-admin", role="admin")
    store = StoreFactory(slug="api-search")
    open_one = ticket(store, "Envío", minutes=0)
    solved = ticket(store, "Envío", minutes=5)
    actions.change_status(ticket=solved, status=Ticket.Status.SOLVED)

    assert client_for(admin).ids(TICKETS, {"q": "envío", "status": "solved"}) == [solved.pk]
    assert client_for(admin).ids(TICKETS, {"q": "envío", "status": "new"}) == [open_one.pk]


def test_q_never_reaches_tickets_of_another_store(client_for, either_plan):
    spain, romania = StoreFactory(slug="api-search-es"), StoreFactory(slug="api-search-ro")
    mine = ticket(spain, "Colchón roto", minutes=0)
    ticket(romania, "Colchón roto", minutes=1)

    assert client_for(agent_of(spain)).ids(TICKETS, {"q": "colchon"}) == [mine.pk]


def test_q_pages_with_the_cursor_like_the_plain_list(client_for, either_plan):
    admin = UserFactory(username="api-search-admin", role="admin")
    store = StoreFactory(slug="api-search")
    made = [ticket(store, f"Almohada {n}", minutes=n) for n in range(5)]

    first = client_for(admin).get(TICKETS, {"q": "almohada", "page_size": 3}).json()
    second = client_for(admin).get(first["next"]).json()

    assert [row["id"] for row in first["results"] + second["results"]] == [t.pk for t in reversed(made)]
    assert second["next"] is None


def test_a_too_long_q_is_a_clear_400(client_for):
    admin = UserFactory(username="api-search-admin", role="admin")

    response = client_for(admin).get(TICKETS, {"q": "x" * 201})

    assert response.status_code == 400
    assert "q" in response.json()


def test_the_frequency_sample_tells_common_words_from_rare_ones():
    from tickets.search.query import is_frequent
    from tickets.search.terms import parse

    store = StoreFactory(slug="api-search-sample")
    for n in range(3):
        ticket(store, f"Colchón {n}", minutes=n)

    assert is_frequent(parse("colchón"))
    assert not is_frequent(parse("unicornio"))
