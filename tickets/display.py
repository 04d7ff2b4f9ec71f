"""How a message is shown on the agent's ticket page: its HTML made safe to look at, its quoted
history folded away, automatic replies and bounces labelled.

Pure functions over messages and strings: the view gathers the rows, this module decides what the
agent sees, and the template only prints it.

Remote images stay blocked until the agent asks for them: an image URL in a marketing or phishing
email is a tracking pixel that tells the sender when, and from which address, the mail was read.
"""

from __future__ import annotations

import dataclasses
import html
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote

from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext as _

from tickets.html import sanitize_html
from tickets.models import Attachment, Message

# Raster formats a browser shows as an image and nothing else. Never SVG: an SVG document can carry
# scripts and links, and the content type comes from the sender of the email.
INLINE_IMAGE_TYPES = frozenset(
    ("image/png", "image/jpeg", "image/pjpeg", "image/gif", "image/webp", "image/bmp", "image/avif")
)

_REMOTE_PREFIXES = ("http://", "https://", "//")


def inline_image_type(content_type: str) -> str:
    """The normalised content type when an attachment may be served inline as an image, else ""."""
    normalised = (content_type or "").split(";", 1)[0].strip().lower()
    return normalised if normalised in INLINE_IMAGE_TYPES else ""


# The frame's image requests carry no session: its sandboxed document has an opaque origin, so
# the browser treats them as cross-site and withholds the SameSite=Lax session cookie. Inline images
# are therefore fetched through a signed URL, minted only into a page an agent was allowed to see.
# It names one attachment and expires: long enough for a page left open for a working day. The
# signature covers the hour it was made in, not the second, so the URL stays the same (and cached)
# across reloads within that hour.
INLINE_URL_HOURS = 12
_INLINE_SALT = "tickets.display.inline-image"


def _hour() -> int:
    return int(time.time() // 3600)


def inline_image_url(attachment: Attachment) -> str:
    """The signed, session-free URL of an inline image, for the message frame."""
    token = signing.Signer(salt=_INLINE_SALT).sign(f"{attachment.pk}.{_hour()}")
    return reverse("tickets:attachment_inline", args=[attachment.pk, token])


def is_valid_inline_token(attachment_id: int, token: str) -> bool:
    """Whether `token` was signed for this attachment, by this installation, and is still fresh."""
    try:
        signed = signing.Signer(salt=_INLINE_SALT).unsign(token)
    except signing.BadSignature:
        return False
    pk, _dot, hour = signed.partition(".")
    if pk != str(attachment_id) or not hour.isdigit():
        return False
    return 0 <= _hour() - int(hour) < INLINE_URL_HOURS


def inline_images(attachments: Iterable[Attachment]) -> dict[str, str]:
    """Content id -> inline URL for the attachments that can be shown as images in the message."""
    return {
        attachment.content_id: inline_image_url(attachment)
        for attachment in attachments
        if attachment.content_id and inline_image_type(attachment.content_type)
    }


# --- Images in message HTML -------------------------------------------------------------------


@dataclass(frozen=True)
class MessageHtml:
    html: str
    blocked_images: int  # remote images held back; the page offers to show them when > 0
    shown_images: int = 0  # images that will load (inline ones, remote ones the agent allowed)


class _ImageTags(HTMLParser):
    """Finds every <img> start tag: where it is in the source and its attributes (unescaped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[tuple[int, int], str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.tags.append((self.getpos(), self.get_starttag_text() or "", attrs))


def _content_id(src: str) -> str:
    # RFC 2392: a cid URL is the Content-ID, URL-encoded and without its angle brackets.
    return unquote(src[4:]).strip().strip("<>").strip()


def _tag(attrs: list[tuple[str, str | None]]) -> str:
    parts = ["<img"]
    for name, value in attrs:
        parts.append(f" {name}" if value is None else f' {name}="{html.escape(value, quote=True)}"')
    return "".join(parts) + ">"


def rewrite_images(
    clean_html: str, *, inline_urls: Mapping[str, str], show_remote: bool
) -> MessageHtml:
    """Point every <img> of already-sanitised HTML somewhere safe.

    - `cid:` images load the matching attachment from `inline_urls` (content id -> URL); an unknown
      content id loses its `src`;
    - http(s) and protocol-relative images keep their URL in `data-blocked-src` and lose `src`,
      unless `show_remote`; shown, http is upgraded to https (the frame's policy allows https only,
      and a plain-http request would show the agent's address and the URL to the whole network);
    - any other `src` (a relative path) is dropped: it would resolve against the helpdesk itself
      and send a request with the agent's session.

    Only the <img> tags are rebuilt; the rest of the markup is kept byte for byte.
    """
    parser = _ImageTags()
    parser.feed(clean_html)
    parser.close()
    if not parser.tags:
        return MessageHtml(clean_html, 0)

    # HTMLParser counts lines at "\n" only (not at the other breaks str.splitlines knows).
    line_starts = [0] + [match.end() for match in re.finditer("\n", clean_html)]

    pieces: list[str] = []
    position = 0
    blocked = shown = 0
    for (line, column), raw, attrs in parser.tags:
        start = line_starts[line - 1] + column
        src = next((value or "" for name, value in attrs if name == "src"), "").strip()
        kept = [(name, value) for name, value in attrs if name not in ("src", "data-blocked-src")]
        lowered = src.lower()
        if lowered.startswith("cid:"):
            url = inline_urls.get(_content_id(src), "")
            if url:
                kept.insert(0, ("src", url))
                shown += 1
        elif lowered.startswith(_REMOTE_PREFIXES):
            if show_remote:
                secure = "https://" + src.split("//", 1)[1]
                kept.insert(0, ("src", secure))
                shown += 1
            else:
                kept.append(("data-blocked-src", src))
                blocked += 1
        pieces.append(clean_html[position:start])
        pieces.append(_tag(kept))
        position = start + len(raw)
    pieces.append(clean_html[position:])
    return MessageHtml("".join(pieces), blocked, shown)


# --- The sandboxed frame ----------------------------------------------------------------------

# The policy is a second lock behind the sanitiser and the sandbox: no scripts, no plugins, no
# forms. Images come only from the helpdesk's own origin (inline cid: attachments), plus https
# when the agent chose to show remote images. The origin is written out rather than 'self': the
# sandboxed srcdoc document has an opaque origin, which 'self' would not match.
_FRAME_POLICY = (
    "default-src 'none'; img-src {images}; style-src 'unsafe-inline'; form-action 'none'"
)
_FRAME_HEAD = (
    '<!doctype html><html><head><meta charset="utf-8">'
    '<meta http-equiv="Content-Security-Policy" content="{policy}">'
    '<base target="_blank">'
    "<style>html{{color-scheme:light}}body{{margin:0;font:14px/1.55 system-ui,-apple-system,'Segoe UI',"
    "Roboto,sans-serif;color:#1f2937;overflow-wrap:anywhere}}img{{max-width:100%;height:auto}}"
    "img[data-blocked-src]{{display:inline-block;min-width:1.5em;min-height:1.5em;"
    "background:#f3f4f6;outline:1px dashed #d1d5db;color:#6b7280;font-size:12px}}"
    "blockquote{{margin:.5em 0;padding-left:.8em;border-left:3px solid #d1d5db;color:#4b5563}}"
    "pre{{white-space:pre-wrap}}a{{color:#2563eb}}</style></head><body>"
)
_FRAME_TAIL = "</body></html>"


def frame_document(
    body_html: str, *, origin: str, inline_urls: Mapping[str, str], show_remote: bool
) -> MessageHtml:
    """The srcdoc of a message's iframe, and how many remote images it holds back.

    `origin` is the helpdesk's own scheme://host[:port], where inline images are served. The HTML
    is sanitised again here: rows written by bulk updates skip `Message.save`, and the cost is small
    next to what a missed script would do. Images are rewritten after sanitising, since the
    sanitiser would strip `data-blocked-src`.
    """
    rewritten = rewrite_images(
        sanitize_html(body_html), inline_urls=inline_urls, show_remote=show_remote
    )
    images = f"{origin} https:" if show_remote else origin
    head = _FRAME_HEAD.format(policy=_FRAME_POLICY.format(images=images))
    return dataclasses.replace(rewritten, html=head + rewritten.html + _FRAME_TAIL)


# --- Quoted history ---------------------------------------------------------------------------


def folded_text(message: Message) -> str:
    """The new part of a plain-text message when the rest is quoted history, else "".

    Only when `visible_text` is non-empty and really shorter than the full text: otherwise there is
    nothing to fold, and a toggle that reveals the same words again would only confuse.
    """
    visible = message.visible_text.strip()
    if visible and len(visible) < len(message.body_text.strip()):
        return visible
    return ""


# --- Automatic replies and bounces --------------------------------------------------------------


@dataclass(frozen=True)
class AutoReplyLabel:
    label: str
    is_bounce: bool
    recipient: str
    diagnostic: str


def auto_reply_label(message: Message) -> AutoReplyLabel | None:
    """What an automatic message is, for its badge; None for a message a person wrote."""
    if not message.is_auto_reply:
        return None
    metadata = message.metadata if isinstance(message.metadata, dict) else {}
    reason = metadata.get("auto_reply_reason", "")
    if reason == "bounce":
        bounce = metadata.get("bounce")
        bounce = bounce if isinstance(bounce, dict) else {}
        return AutoReplyLabel(
            label=_("Bounce"),
            is_bounce=True,
            recipient=str(bounce.get("recipient", "")),
            diagnostic=str(bounce.get("diagnostic", "") or bounce.get("status", "")),
        )
    labels = {"read_receipt": _("Read receipt"), "feedback_report": _("Spam complaint")}
    return AutoReplyLabel(
        label=labels.get(reason, _("Automatic reply")), is_bounce=False, recipient="", diagnostic=""
    )
