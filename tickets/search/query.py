"""Searching tickets: match, rank a bounded set of candidates, highlight.

1. **Match**: every ticket has one search document (`TicketSearchDocument`, kept current by the
   database triggers of migration 0012) with a GIN index. The query's words must all be in it.
2. **Candidates**: of the visible matching tickets, the `CANDIDATES` newest (by id). They are
   looked for in the newest `FIRST_WINDOW` tickets first (the GIN index and the id range as two
   bitmaps, `helpdesk_search_matches`), then in a window sized from the density found there, or
   in the whole table. A common word ("order", "pedido": hundreds of thousands of tickets) is
   settled in the first window, reading 5,000 tickets' worth of matches; a rare one in one or two
   small index reads. The database function always goes through the GIN index: PostgreSQL's own
   estimates for rare words and prefixes would sometimes test a million documents one by one.
3. **Rank** only those with `ts_rank` (subject, names, emails, phones and order numbers weigh
   more than message text) and page through them by (rank, id).
4. **Highlight** the page: for each ticket the newest of its last `SNIPPET_MESSAGES` messages
   that matches (every word if one does, else any), or else its customer's details and order
   numbers, as escaped HTML with <mark> around the matches; and its subject likewise.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Max, Prefetch, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString, mark_safe

from tickets.models import Order, Ticket
from tickets.search.highlight import Lexemes, highlight
from tickets.search.terms import SearchTerms, parse

# How many of the newest matching tickets are ranked. Beyond it, an agent refines the query.
CANDIDATES = 500
# Candidates are looked for among the newest FIRST_WINDOW tickets first, then in a window sized
# from the matches found there, or the whole table.
FIRST_WINDOW = 5_000
# How many of a ticket's newest messages are looked at for its snippet.
SNIPPET_MESSAGES = 20


@dataclass
class SearchResult:
    ticket: Ticket
    rank: float
    # A few lines of the best matching message (or the customer's details), escaped, matches in <mark>.
    snippet_html: SafeString
    # The ticket's subject, escaped, matches in <mark>.
    subject_html: SafeString


@dataclass
class SearchPage:
    query: str
    rows: list[SearchResult] = field(default_factory=list)
    next_cursor: str | None = None
    # True when more tickets matched than were ranked (CANDIDATES): the newest ones were kept.
    capped: bool = False

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def matching(queryset: QuerySet[Ticket], query: str) -> QuerySet[Ticket]:
    """`queryset` narrowed to every ticket matching `query` (no ranking, no cap): for lists that
    keep their own order, like the API's (newest activity first, keyset pages). An empty query
    leaves the queryset as it is.

    How PostgreSQL should find them depends on how common the words are, and its estimates for
    rare words and prefixes are not to be trusted, so the newest tickets are sampled first: where
    matches are frequent (1 % or more), walking the list's own index and testing each ticket's
    document stops after a few hundred rows; otherwise the GIN index lists them all."""
    terms = parse(query)
    if not terms:
        return queryset
    query_sql, query_params = terms.sql()
    if is_frequent(terms):
        documents = f"SELECT ticket_id FROM tickets_ticketsearchdocument WHERE document @@ {query_sql}"
        return queryset.filter(pk__in=RawSQL(documents, query_params))
    return queryset.filter(pk__in=RawSQL(f"SELECT helpdesk_search_matches({query_sql}, 0)", query_params))


def is_frequent(terms: SearchTerms) -> bool:
    """Whether 1 % or more of the newest FIRST_WINDOW tickets match."""
    query_sql, query_params = terms.sql()
    newest = Ticket.objects.aggregate(newest=Max("id"))["newest"] or 0
    floor = newest - FIRST_WINDOW
    with connection.cursor() as db:
        db.execute(
            f"SELECT (SELECT count(*) FROM helpdesk_search_matches({query_sql}, %s)),"
            " (SELECT count(*) FROM tickets_ticket WHERE id > %s)",
            [*query_params, floor, floor],
        )
        matches, tickets = db.fetchone()
    return matches > 0 and matches * 100 >= tickets


def search_tickets(
    user, query: str, *, limit: int = 50, cursor: str | None = None, within: QuerySet[Ticket] | None = None
) -> SearchPage:
    """The tickets `user` may see that match `query`, best first, `limit` a page.

    `cursor` is the `next_cursor` of the previous page (an unreadable one starts over).
    `within` narrows the search to a queryset of tickets (an inbox view); by default every
    ticket the user can see, `Ticket.objects.visible_to(user)`; it is scoped to those anyway.
    """
    page = SearchPage(query=query)
    terms = parse(query)
    if not terms:
        return page
    visible = Ticket.objects.visible_to(user)
    base = visible if within is None else within & visible
    candidates = _candidates(base, terms)
    if not candidates:
        return page
    page.capped = len(candidates) >= CANDIDATES
    query_sql, query_params = terms.sql()
    after = _decode_cursor(cursor)
    after_sql, after_params = ("WHERE (rank, ticket_id) < (%s, %s)", list(after)) if after else ("", [])
    with connection.cursor() as db:
        db.execute(
            f"""
            WITH search AS (SELECT {query_sql} AS query)
            SELECT ticket_id, rank, (SELECT query::text FROM search)
            FROM (
                SELECT d.ticket_id, ts_rank(d.document, search.query)::float8 AS rank
                FROM tickets_ticketsearchdocument AS d, search
                WHERE d.ticket_id = ANY(%s::bigint[])
            ) AS ranked
            {after_sql}
            ORDER BY rank DESC, ticket_id DESC
            LIMIT %s
            """,
            [*query_params, candidates, *after_params, limit + 1],
        )
        found = db.fetchall()
    if not found:
        return page
    lexemes = Lexemes.of_query(found[0][2])
    if len(found) > limit:
        found = found[:limit]
        page.next_cursor = _encode_cursor(found[-1][1], found[-1][0])
    ids = [ticket_id for ticket_id, *_ in found]
    tickets = (
        base.filter(pk__in=ids)
        .select_related("customer", "store", "assignee", "team", "channel_account")
        .prefetch_related("tags", Prefetch("orders", queryset=Order.objects.only("id", "number", "external_id")))
        .in_bulk()
    )
    texts = _matching_messages(ids, terms)
    for ticket_id, rank, *_ in found:
        ticket = tickets.get(ticket_id)
        if ticket is None:  # deleted between the two queries
            continue
        page.rows.append(SearchResult(
            ticket=ticket, rank=rank, snippet_html=_snippet(ticket, texts.get(ticket_id), lexemes),
            subject_html=highlight(ticket.subject, lexemes, width=500, require_match=False),
        ))
    return page


def _candidates(base: QuerySet[Ticket], terms: SearchTerms) -> list[int]:
    """The ids of the newest (by id) CANDIDATES visible matching tickets: looked for among the
    newest 5,000 tickets first, then in a window as large as the matches' density there asks
    for, or all. A common word is settled in the first window (reading 5,000 tickets' worth of
    matches rather than hundreds of thousands); a rare one in two small index reads."""
    newest = Ticket.objects.aggregate(newest=Max("id"))["newest"] or 0
    query_sql, query_params = terms.sql()
    window = FIRST_WINDOW
    while True:
        floor = max(newest - window, 0)
        matches = RawSQL(f"SELECT helpdesk_search_matches({query_sql}, %s)", [*query_params, floor])
        try:
            ids = list(base.filter(pk__in=matches).order_by("-id").values_list("id", flat=True)[:CANDIDATES])
        except EmptyResultSet:  # the user sees no ticket at all
            return []
        if len(ids) >= CANDIDATES or floor == 0:
            return ids
        # The next window is sized from how dense the matches were in this one (with a margin);
        # none at all: the whole table at once.
        window = window * 3 * CANDIDATES // (2 * len(ids)) if ids else newest
        if window > newest // 2:
            window = newest


def _matching_messages(ticket_ids: list[int], terms: SearchTerms) -> dict[int, str]:
    """For each ticket, the text of its newest message (of the last SNIPPET_MESSAGES) that has
    every word of the query, or else the newest that has any of them."""
    query_sql, query_params = terms.sql()
    any_word_sql, any_word_params = [], []
    for word, prefix in zip(terms.words, terms.prefixes, strict=True):
        any_word_sql.append("recent.vector @@ helpdesk_search_term(%s, %s)")
        any_word_params += [word, prefix]
    with connection.cursor() as db:
        db.execute(
            f"""
            SELECT s.ticket_id, hit.text
            FROM unnest(%s::bigint[]) AS s(ticket_id)
            JOIN tickets_ticket AS t ON t.id = s.ticket_id
            LEFT JOIN tickets_customer AS c ON c.id = t.customer_id
            CROSS JOIN LATERAL (
                SELECT recent.text FROM (
                    SELECT newest.text, newest.created_at, newest.id,
                           to_tsvector(helpdesk_search_config(coalesce(nullif(t.language, ''), c.language)),
                                       helpdesk_search_fold(newest.text)) AS vector
                    FROM (
                        SELECT helpdesk_search_message_text(m.visible_text, m.body_text) AS text, m.created_at, m.id
                        FROM tickets_message AS m WHERE m.ticket_id = s.ticket_id
                        ORDER BY m.created_at DESC, m.id DESC LIMIT {SNIPPET_MESSAGES}
                    ) AS newest
                ) AS recent
                WHERE {" OR ".join(any_word_sql)}
                ORDER BY coalesce(recent.vector @@ {query_sql}, false) DESC, recent.created_at DESC, recent.id DESC
                LIMIT 1
            ) AS hit
            """,
            [ticket_ids, *any_word_params, *query_params],
        )
        return dict(db.fetchall())


def _snippet(ticket: Ticket, message_text: str | None, lexemes: Lexemes) -> SafeString:
    if message_text:
        snippet = highlight(message_text, lexemes)
        if snippet:
            return snippet
    customer = ticket.customer
    details = [customer.name, customer.email, customer.phone] if customer is not None else []
    details += [order.number for order in ticket.orders.all()]
    line = " · ".join(value for value in details if value)
    snippet = highlight(line, lexemes, width=400)
    if snippet:
        return snippet
    return highlight(message_text or "", lexemes, require_match=False) if message_text else mark_safe("")


def _encode_cursor(rank: float, ticket_id: int) -> str:
    return base64.urlsafe_b64encode(f"{rank!r}:{ticket_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[float, int] | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        rank, ticket_id = text.split(":")
        return float(rank), int(ticket_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
