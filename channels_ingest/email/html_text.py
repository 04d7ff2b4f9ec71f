"""Readable plain text from the HTML of an email, for HTML-only mail and for search.

Not a renderer: it keeps what a reader needs (paragraphs, line breaks, list items, where links
go, which lines are quoted) and drops what they never see (head, scripts, styles). Built on the
stdlib `html.parser`, which never raises on malformed markup; entities are unescaped by it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements that start and end on a line of their own.
_BLOCK = frozenset({
    "address", "article", "aside", "center", "dd", "div", "dl", "dt", "fieldset", "figcaption",
    "figure", "footer", "form", "header", "hr", "main", "nav", "section", "table", "tbody",
    "thead", "tfoot", "tr", "caption",
})
# Elements separated from their neighbours by a blank line.
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "pre", "blockquote"})
# Content nobody reads in a mail client.
_SKIP = frozenset({"script", "style", "head", "title", "noscript", "template", "object", "iframe"})
# Link targets worth showing to a reader.
_SHOWN_SCHEMES = ("http://", "https://", "ftp://", "mailto:", "tel:")

_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANK_RUNS = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line = ""
        self._skip: list[str] = []
        self._pre = 0
        self._quote = 0
        # One entry per open list: [is_ordered, items seen].
        self._lists: list[list[int]] = []
        # One entry per open link: [href, text seen inside].
        self._links: list[list[str]] = []

    # --- output helpers ---------------------------------------------------------------------

    def _flush(self) -> None:
        line = self._line.rstrip()
        self._line = ""
        if line:
            self.lines.append("> " * self._quote + line)

    def _break(self, *, blank: bool = False) -> None:
        self._flush()
        if blank and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def _write(self, text: str) -> None:
        if not text:
            return
        if not self._line:
            text = text.lstrip(" ")
        elif self._line.endswith(" ") and text.startswith(" "):
            text = text.lstrip(" ")
        self._line += text
        for link in self._links:
            link[1] += text

    # --- parser callbacks -------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            # A missing </head> must not hide the whole message.
            self._skip = [t for t in self._skip if t != "head"]
            return
        if self._skip:
            if tag in _SKIP:
                self._skip.append(tag)
            return
        if tag in _SKIP:
            self._skip.append(tag)
            return
        if tag == "br":
            if self._line:
                self._flush()
            else:
                self.lines.append("> " * self._quote if self._quote else "")
            return
        if tag == "blockquote":
            self._break(blank=True)
            self._quote += 1
            return
        if tag in ("ul", "ol"):
            self._break(blank=not self._lists)
            self._lists.append([1 if tag == "ol" else 0, 0])
            return
        if tag == "li":
            self._break()
            if self._lists:
                self._lists[-1][1] += 1
                ordered, count = self._lists[-1]
                indent = "  " * (len(self._lists) - 1)
                self._line = f"{indent}{count}. " if ordered else f"{indent}- "
            else:
                self._line = "- "
            return
        if tag == "pre":
            self._break(blank=True)
            self._pre += 1
            return
        if tag in _PARAGRAPH:
            self._break(blank=True)
            return
        if tag in _BLOCK:
            self._break()
            return
        if tag in ("td", "th"):
            if self._line and not self._line.endswith(" "):
                self._line += " "
            return
        if tag == "a":
            self._links.append([dict(attrs).get("href") or "", ""])
            return
        if tag == "img" and self._links and not self._links[-1][1].strip():
            # An image inside a link is the link's only label: its alt text says what it is.
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self._write(_SPACES.sub(" ", alt))

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag == self._skip[-1]:
                self._skip.pop()
            elif tag in self._skip:
                while self._skip and self._skip.pop() != tag:
                    pass
            return
        if tag == "blockquote":
            self._break(blank=True)
            self._quote = max(0, self._quote - 1)
            return
        if tag in ("ul", "ol"):
            if self._lists:
                self._lists.pop()
            self._break(blank=not self._lists)
            return
        if tag == "li":
            self._break()
            return
        if tag == "pre":
            self._break(blank=True)
            self._pre = max(0, self._pre - 1)
            return
        if tag in _PARAGRAPH:
            self._break(blank=True)
            return
        if tag in _BLOCK:
            self._break()
            return
        if tag == "a" and self._links:
            href, text = self._links.pop()
            self._write_link_target(href.strip(), text.strip())

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "img", "hr", "meta", "link", "input"):
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            parts = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for index, part in enumerate(parts):
                if index:
                    if self._line:
                        self._flush()
                    else:
                        self.lines.append("")
                self._line += part
                for link in self._links:
                    link[1] += part
            return
        self._write(_SPACES.sub(" ", data))

    def _write_link_target(self, href: str, text: str) -> None:
        lowered = href.lower()
        if not lowered.startswith(_SHOWN_SCHEMES):
            return  # anchors, cid: images, javascript: — nothing a reader can follow
        target = href
        if lowered.startswith(("mailto:", "tel:")):
            target = href.split(":", 1)[1].split("?", 1)[0]
        if not text:
            self._write(target)
            return
        # "https://shop.example" shown as its own text needs no repetition.
        if _same_target(text, target):
            return
        self._write(f" ({target})")


def _same_target(text: str, target: str) -> bool:
    def bare(value: str) -> str:
        value = value.strip().lower().rstrip("/")
        for prefix in ("https://", "http://", "mailto:", "tel:", "www."):
            if value.startswith(prefix):
                value = value[len(prefix):]
        return value

    return bare(text) == bare(target)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment or document. Never raises; returns "" for empty input.

    Block elements and <br> become line breaks, paragraphs and headings are separated by a blank
    line, list items start with "- " (or "1. " in ordered lists), links read "text (url)",
    blockquotes are prefixed with "> " like quoted mail, and whitespace is collapsed as a browser
    would. <head>, <script>, <style> and similar invisible content are dropped.
    """
    if not html or not html.strip():
        return ""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient, but a converter must never lose a message
        return _SPACES.sub(" ", re.sub(r"<[^>]*>", " ", html)).strip()
    parser._flush()
    text = "\n".join(line.rstrip() for line in parser.lines)
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")
