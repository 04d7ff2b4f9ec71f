"""Snippets: a short window of text around the first match, with the matching words marked.

The text is the original (accents kept); each word is folded and compared with the lexemes of the
query (stems match the words they are the start of: "envi" marks "envío" and "envíos"). Every
piece of text is HTML-escaped before it is wrapped in <mark>, so a message containing markup comes
back as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from tickets.search.folding import fold

# A word, or an address/number with inner dots, dashes, @ and plus signs.
TOKEN = re.compile(r"\w(?:[\w.@+\-']*\w)?")
QUERY_LEXEME = re.compile(r"'((?:[^']|'')*)'(:\*)?")
TOKEN_PARTS = re.compile(r"\w+")
DIGITS = re.compile(r"\d+")
# Stems shorter than this only mark the exact word (a stem "a" would mark every word with an a).
MIN_STEM_PREFIX = 3


@dataclass(frozen=True)
class Lexemes:
    """The lexemes of a query (its tsquery text), marked ones ("~word") unmarked."""

    exact: frozenset[str]
    prefixes: frozenset[str]

    @classmethod
    def of_query(cls, tsquery_text: str) -> Lexemes:
        exact, prefixes = set(), set()
        for match in QUERY_LEXEME.finditer(tsquery_text or ""):
            lexeme = match.group(1).replace("''", "'").replace("\\\\", "\\")
            lexeme = lexeme[1:] if lexeme.startswith("~") else lexeme  # a marked exact lexeme
            if match.group(2) or len(lexeme) >= MIN_STEM_PREFIX:
                prefixes.add(lexeme)
            exact.add(lexeme)
        return cls(frozenset(exact), frozenset(prefixes))

    def matches(self, word: str) -> bool:
        folded = fold(word)
        candidates = [folded, *TOKEN_PARTS.findall(folded)] if not folded.isalnum() else [folded]
        for candidate in candidates:
            if candidate in self.exact or any(candidate.startswith(prefix) for prefix in self.prefixes):
                return True
        digits = "".join(DIGITS.findall(folded))
        # A phone number is searched by any ending of its digits ("600111222" in "+34600111222").
        return len(digits) >= 6 and any(
            digits.endswith(lexeme) for lexeme in self.prefixes if len(lexeme) >= 6 and lexeme.isdigit()
        )

    def __bool__(self) -> bool:
        return bool(self.exact)


def highlight(text: str, lexemes: Lexemes, *, width: int = 220, require_match: bool = True) -> SafeString:
    """A window of about `width` characters of `text` around its first match, escaped, matches
    in <mark>. Empty when `require_match` and nothing matches."""
    text = " ".join((text or "").split())
    hits = [m for m in TOKEN.finditer(text) if lexemes.matches(m.group())]
    if not hits and require_match:
        return mark_safe("")
    start = 0
    if hits and hits[0].start() > width // 3:
        start = hits[0].start() - width // 3
        start = text.find(" ", start) + 1 or start  # at a word's start
    end = min(len(text), start + width)
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    pieces = ["…"] if start > 0 else []
    position = start
    for hit in hits:
        if hit.start() < start:
            continue
        if hit.end() > end:
            break
        pieces.append(escape(text[position:hit.start()]))
        pieces.append(f"<mark>{escape(hit.group())}</mark>")
        position = hit.end()
    pieces.append(escape(text[position:end]))
    if end < len(text):
        pieces.append("…")
    return mark_safe("".join(pieces))
