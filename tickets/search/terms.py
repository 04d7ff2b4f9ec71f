"""What an agent typed, cut into the words the database searches for.

Each word becomes, in the database (`helpdesk_search_term`), its stems in English, Spanish and
Romanian, the word itself, and, for words that may be the start of a name, an email address, a
phone number or an order number, a prefix of those exact lexemes. All words must match (AND).

- Phone numbers are written with spaces, dashes, dots and brackets ("+34 600 111 222"): a run of
  such characters with six digits or more is one word, its digits ("34600111222").
- "#1001" is the order number 1001 (shops show the hash, customers often leave it out).
- An email address is one word ("maria.lopez@example.com").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tickets.search.folding import fold

MAX_QUERY_LENGTH = 200
MAX_WORDS = 8
# A prefix shorter than this would match too many lexemes to be useful (and to be fast).
MIN_PREFIX_LENGTH = 3

PHONE_RUN = re.compile(r"(?<![\w@.])\+?\(?\d[\d\s().\-/]{4,}\d(?![\w@])")
SURROUNDING_PUNCTUATION = ".,;:!?()[]{}<>\"'«»“”‘’¿¡*"
PLAIN_WORD = re.compile(r"\w+")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class SearchTerms:
    """The words of a query, each with whether it may match as a prefix."""

    words: tuple[str, ...] = ()
    prefixes: tuple[bool, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.words)

    def sql(self) -> tuple[str, list]:
        """The tsquery expression and its parameters."""
        return "helpdesk_search_query(%s::text[], %s::boolean[])", [list(self.words), list(self.prefixes)]


def parse(query: str) -> SearchTerms:
    """The search terms of a query string; empty when nothing searchable is left."""
    # PostgreSQL text cannot hold NUL; other control characters are spaces to a search.
    text = CONTROL.sub(" ", query or "").strip()[:MAX_QUERY_LENGTH]
    words: list[str] = []
    prefixes: list[bool] = []

    def add(word: str, prefix: bool) -> None:
        if word and word not in words and len(words) < MAX_WORDS:
            words.append(word)
            prefixes.append(prefix)

    remaining = []
    position = 0
    for match in PHONE_RUN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) >= 6:
            remaining.append(text[position:match.start()])
            position = match.end()
            add(digits, True)
    remaining.append(text[position:])
    for token in " ".join(remaining).split():
        token = token.strip(SURROUNDING_PUNCTUATION).lstrip("#")
        if not token:
            continue
        folded = fold(token)
        prefix = "@" in folded or (len(folded) >= MIN_PREFIX_LENGTH and PLAIN_WORD.fullmatch(folded) is not None)
        add(token, prefix)
    return SearchTerms(tuple(words), tuple(prefixes))
