"""Accent folding for search: "envío" and "envio", "comandă" and "comanda" are the same word.

The embedded PostgreSQL has no `unaccent` extension, so documents and queries are folded by the
database function `helpdesk_search_fold` (tickets/migrations/0012_search.py): canonical
decomposition (NFD), combining marks dropped, lower case. `fold` is the same in Python, for the
highlighting of snippets; a test checks that both agree.
"""

from __future__ import annotations

import unicodedata


def fold(value: str) -> str:
    """Lower-case, accents removed: the form words are indexed and searched in."""
    if value.isascii():
        return value.lower()
    decomposed = unicodedata.normalize("NFD", value)
    return "".join(char for char in decomposed if not "\u0300" <= char <= "\u036f").lower()
