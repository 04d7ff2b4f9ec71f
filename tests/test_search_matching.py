"""Full-text search (`tickets.search.search_tickets`): what matches, in which languages, in what
order, how it is highlighted, and who sees what."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.factories import (
    CustomerFactory,
    OrderFactory,
    StoreFactory,
    TicketFactory,
    UserFactory,
    agent_of,
)
from tickets import actions
from tickets.models import Message, Ticket
from tickets.search import search_tickets
from tickets.search.folding import fold

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(username="search-admin", role="admin")


def found(user, query: str) -> list[int]:
    return [row.ticket.pk for row in search_tickets(user, query).rows]


def ticket_with(*, text: str = "", subject: str = "Question", language: str = "en", customer=None, store=None):
    customer = customer or CustomerFactory(name="Plain Customer", email="plain@example.org", language=language)
    ticket = actions.create_ticket(
        store=store or StoreFactory(), channel="email", customer=customer, subject=subject, language=language
    )
    if text:
        actions.add_message(ticket=ticket, direction=Message.Direction.INBOUND, body_text=text)
    return ticket


# --- Each field ----------------------------------------------------------------------------------


def test_a_word_of_the_subject_finds_the_ticket(admin):
    ticket = ticket_with(subject="Broken umbrella handle")
    ticket_with(subject="Something else")

    assert found(admin, "umbrella") == [ticket.pk]


def test_a_word_of_a_message_finds_the_ticket(admin):
    ticket = ticket_with(text="The parcel arrived with a cracked teapot inside.")
    ticket_with(text="All good, thanks.")

    assert found(admin, "teapot") == [ticket.pk]


def test_the_customer_name_finds_the_ticket_and_a_name_prefix_too(admin):
    customer = CustomerFactory(name="Bartholomew Quince", email="bq@example.org")
    ticket = ticket_with(customer=customer)
    ticket_with()

    assert found(admin, "Bartholomew Quince") == [ticket.pk]
    assert found(admin, "Barthol") == [ticket.pk]
    assert found(admin, "quince") == [ticket.pk]


def test_an_email_address_finds_the_ticket_whole_or_by_its_start(admin):
    customer = CustomerFactory(name="Ann", email="ann.lee@shop-example.com")
    ticket = ticket_with(customer=customer)
    ticket_with()

    assert found(admin, "ann.lee@shop-example.com") == [ticket.pk]
    assert found(admin, "ANN.LEE@Shop-Example.com") == [ticket.pk]
    assert found(admin, "ann.lee@shop") == [ticket.pk]


def test_a_phone_number_finds_the_ticket_however_it_is_typed(admin):
    customer = CustomerFactory(name="Pat", email="", phone="+34600111222")
    ticket = ticket_with(customer=customer)
    ticket_with()

    assert found(admin, "+34 600 111 222") == [ticket.pk]
    assert found(admin, "600-111-222") == [ticket.pk]
    assert found(admin, "(+34) 600111222") == [ticket.pk]


def test_an_order_number_finds_the_ticket_with_or_without_its_hash(admin):
    store = StoreFactory()
    ticket = ticket_with(store=store)
    actions.link_order(ticket=ticket, order=OrderFactory(store=store, number="#48213", customer=ticket.customer))
    amazon = ticket_with(store=store)
    actions.link_order(ticket=amazon, order=OrderFactory(store=store, number="402-3345678-1234567",
                                                         marketplace="amazon", customer=amazon.customer))

    assert found(admin, "#48213") == [ticket.pk]
    assert found(admin, "48213") == [ticket.pk]
    assert found(admin, "402-3345678-1234567") == [amazon.pk]


def test_every_word_must_match_but_in_any_field(admin):
    customer = CustomerFactory(name="Greta Lindqvist", email="greta@example.org")
    both = ticket_with(customer=customer, text="My kettle stopped working.")
    ticket_with(customer=customer, text="Where is my parcel?")
    ticket_with(text="My kettle is lovely.")

    assert found(admin, "lindqvist kettle") == [both.pk]


# --- Languages -----------------------------------------------------------------------------------


def test_spanish_words_match_their_other_forms_with_or_without_accents(admin):
    ticket = ticket_with(language="es", text="Hola, el envío de mi pedido todavía no ha llegado.")
    ticket_with(language="es", text="Gracias por todo.")

    for query in ("envío", "envio", "ENVÍO", "envíos", "pedidos", "llegado"):
        assert found(admin, query) == [ticket.pk], query


def test_romanian_words_match_their_other_forms_with_or_without_diacritics(admin):
    ticket = ticket_with(language="ro", text="Bună ziua, comanda mea nu a ajuns. Aștept coletul de o săptămână.")
    ticket_with(language="ro", text="Mulțumesc frumos.")

    for query in ("comandă", "comanda", "aștept", "astept", "coletul", "colet", "saptamana"):
        assert found(admin, query) == [ticket.pk], query


def test_english_words_match_their_stems(admin):
    ticket = ticket_with(language="en", text="I was charged twice for the same shoes.")
    ticket_with(language="en", text="Thank you.")

    assert found(admin, "charges") == [ticket.pk]
    assert found(admin, "shoe") == [ticket.pk]


def test_a_stop_word_of_one_language_does_not_hide_that_languages_tickets(admin):
    # "de" is a Spanish stop word (not in the Spanish ticket's words), "the" an English one.
    spanish = ticket_with(language="es", text="La talla de la chaqueta es pequeña.")

    assert found(admin, "chaqueta de") == [spanish.pk]
    assert found(admin, "the chaqueta") == [spanish.pk]


def test_a_query_of_stop_words_or_punctuation_only_finds_nothing(admin):
    ticket_with(text="the and of")

    assert found(admin, "the") == []
    assert found(admin, "  ?! ") == []
    assert search_tickets(admin, "").rows == []


def test_python_and_database_fold_accents_alike():
    samples = ["Envío", "COMANDĂ", "Ștefan Şerban", "Țară ţară", "Niño ÑANDÚ", "Ça va", "Über", "Åse Ørsted", "Łódź"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT helpdesk_search_fold(s) FROM unnest(%s::text[]) AS s", [samples])
        assert [row[0] for row in cursor.fetchall()] == [fold(sample) for sample in samples]
    assert fold("Ștefan Şerban COMANDĂ envío") == "stefan serban comanda envio"


# --- Ranking and pages ---------------------------------------------------------------------------


def test_a_subject_match_ranks_above_a_mention_in_a_message(admin):
    in_message = ticket_with(subject="Question", text="By the way, the lampshade is fine.")
    in_subject = ticket_with(subject="Lampshade arrived dented", text="See the photo.")
    both = ticket_with(subject="Lampshade missing", text="The lampshade was not in the box.")

    rows = search_tickets(admin, "lampshade").rows

    assert [row.ticket.pk for row in rows] == [both.pk, in_subject.pk, in_message.pk]
    assert rows[0].rank > rows[1].rank > rows[2].rank > 0


def test_results_come_in_pages_with_a_cursor_and_no_repeats(admin):
    tickets = [ticket_with(subject=f"Pillow {n}", text="pillow " * (n % 3 + 1)) for n in range(7)]

    first = search_tickets(admin, "pillow", limit=3)
    second = search_tickets(admin, "pillow", limit=3, cursor=first.next_cursor)
    third = search_tickets(admin, "pillow", limit=3, cursor=second.next_cursor)

    seen = [row.ticket.pk for page in (first, second, third) for row in page.rows]
    assert sorted(seen) == sorted(t.pk for t in tickets)
    assert len(set(seen)) == 7
    assert third.next_cursor is None
    ranks = [row.rank for page in (first, second, third) for row in page.rows]
    assert ranks == sorted(ranks, reverse=True)


def test_an_unreadable_cursor_starts_from_the_first_page(admin):
    ticket = ticket_with(subject="Blanket")

    assert [r.ticket.pk for r in search_tickets(admin, "blanket", cursor="not-a-cursor").rows] == [ticket.pk]


# --- Highlighting --------------------------------------------------------------------------------


def test_the_snippet_marks_the_matching_words_and_keeps_accents(admin):
    ticket_with(language="es", text="Hola, el envío de mi pedido no llegó.")

    row = search_tickets(admin, "envio").rows[0]

    assert str(row.snippet_html) == "Hola, el <mark>envío</mark> de mi pedido no llegó."


def test_markup_in_a_message_comes_back_escaped(admin):
    ticket_with(text='Look: <script>alert("x")</script> <b onclick="steal()">bold</b> alert box')

    snippet = str(search_tickets(admin, "alert").rows[0].snippet_html)

    assert "<script>" not in snippet and "<b " not in snippet
    assert "&lt;script&gt;" in snippet
    assert "&lt;b onclick=&quot;steal()&quot;&gt;" in snippet
    assert snippet.count("<mark>") == snippet.count("</mark>") >= 1
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_markup_in_a_subject_or_name_comes_back_escaped(admin):
    customer = CustomerFactory(name="<img src=x onerror=alert(1)> Zed", email="zed@example.org")
    ticket_with(customer=customer, subject="<i>Zed</i> asks")

    row = search_tickets(admin, "zed").rows[0]

    assert "<img" not in str(row.snippet_html) and "&lt;img" in str(row.snippet_html)
    assert str(row.subject_html) == "&lt;i&gt;<mark>Zed</mark>&lt;/i&gt; asks"


def test_a_match_on_the_customer_shows_their_details_as_the_snippet(admin):
    customer = CustomerFactory(name="Oona Vale", email="oona@example.org", phone="+40722000111")
    ticket_with(customer=customer, text="Nothing about names here.")

    row = search_tickets(admin, "oona").rows[0]

    assert str(row.snippet_html) == "<mark>Oona</mark> Vale · <mark>oona@example.org</mark> · +40722000111"


def test_the_snippet_window_centres_on_the_match_in_a_long_message(admin):
    text = "word " * 200 + "the hedgehog is here " + "word " * 200
    ticket_with(text=text)

    snippet = str(search_tickets(admin, "hedgehog").rows[0].snippet_html)

    assert "<mark>hedgehog</mark>" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) < 300


# --- Who sees what -------------------------------------------------------------------------------


def test_an_agent_finds_only_the_tickets_of_their_stores():
    spain, romania = StoreFactory(slug="search-es"), StoreFactory(slug="search-ro")
    mine = ticket_with(store=spain, subject="Teapot cracked")
    ticket_with(store=romania, subject="Teapot cracked too")
    agent = agent_of(spain)

    assert found(agent, "teapot") == [mine.pk]


def test_someone_without_a_helpdesk_role_finds_nothing():
    ticket_with(subject="Teapot")
    outsider = UserFactory(username="search-outsider")

    assert found(outsider, "teapot") == []


def test_within_narrows_the_search_to_a_view(admin):
    from tickets.models import Ticket

    unsolved = ticket_with(subject="Kettle A")
    solved = ticket_with(subject="Kettle B")
    actions.change_status(ticket=solved, status=Ticket.Status.SOLVED)

    page = search_tickets(admin, "kettle", within=Ticket.objects.exclude(status=Ticket.Status.SOLVED))
    assert [row.ticket.pk for row in page.rows] == [unsolved.pk]


def test_tickets_made_outside_the_actions_are_found_too(admin):
    ticket = TicketFactory(subject="Factory-made saucepan")

    assert found(admin, "saucepan") == [ticket.pk]


# --- Bounded ranking -----------------------------------------------------------------------------


def test_a_word_in_very_many_tickets_ranks_only_the_newest_matches(admin, monkeypatch):
    from tickets.search import query

    monkeypatch.setattr(query, "CANDIDATES", 3)
    monkeypatch.setattr(query, "FIRST_WINDOW", 2)
    made = [ticket_with(subject=f"Cushion {n}") for n in range(5)]

    page = search_tickets(admin, "cushion")

    assert page.capped
    assert sorted(row.ticket.pk for row in page.rows) == sorted(t.pk for t in made[-3:])


def test_matches_older_than_the_first_window_are_still_found(admin, monkeypatch):
    from tickets.search import query

    monkeypatch.setattr(query, "FIRST_WINDOW", 2)
    old = ticket_with(subject="Ottoman footstool")
    for n in range(6):
        ticket_with(subject=f"Unrelated {n}")

    page = search_tickets(admin, "footstool")

    assert [row.ticket.pk for row in page.rows] == [old.pk]
    assert not page.capped


# (what was typed, whether it names the ticket "O'Brien pedido"): operators, quotes and
# tsquery syntax are read as text, so they neither break the query nor match on their own.
@pytest.mark.parametrize(("query", "finds"), [
    ("'", False), ("\\", False), ("''; DROP TABLE tickets_ticket; --", False), ("&|!", False),
    ("(", False), ("<->", False), ("x" * 5000, False), ("\u0000", False), ("中文", False),
    ("o'brien", True), ("📦 pedido", True), ("O'Brien & pedido", True), ("pedido:*", True),
])
def test_any_input_is_searched_as_text_never_as_syntax(admin, query, finds):
    ticket = ticket_with(subject="O'Brien pedido")

    page = search_tickets(admin, query)

    assert [row.ticket.pk for row in page.rows] == ([ticket.pk] if finds else [])
    assert Ticket.objects.filter(pk=ticket.pk).exists()  # the typed SQL was never executed
