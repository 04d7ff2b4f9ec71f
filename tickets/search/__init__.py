"""Full-text search over tickets: subjects, message texts, customer names, email addresses,
phone numbers and order numbers, in English, Spanish and Romanian, ranked and highlighted.

    from tickets.search import search_tickets
    page = search_tickets(request.user, "envío retrasado", limit=50, cursor=None)
    for row in page.rows: row.ticket, row.rank, row.snippet_html
    page.next_cursor

How documents are built and kept current: tickets/migrations/0012_search.py (database triggers
on messages, tickets, customers, identities and order links, so every write path counts: the ORM,
the set-based batch ingest, merges, bulk loads). How a query is matched, ranked and highlighted:
tickets/search/query.py. The README's "Search" paragraph says it for users.
"""

from __future__ import annotations

from tickets.search.query import CANDIDATES, SearchPage, SearchResult, matching, search_tickets
from tickets.search.terms import SearchTerms, parse

__all__ = ["CANDIDATES", "SearchPage", "SearchResult", "SearchTerms", "matching", "parse", "search_tickets"]
