"""Raw email (RFC 5322 / MIME) to `NormalizedMessage`: pure functions, no database.

Mail in the wild breaks every rule, so this module decodes defensively and never raises on bad
bytes: headers and bodies are decoded with their declared charset (aliased to the superset real
mailers mean, e.g. ks_c_5601-1987 -> cp949, gb2312 -> gb18030), then with a sensible guess, and
with U+FFFD replacement as the last resort. The stdlib parser runs with `email.policy.default`
and the whole parse is retried with `compat32` if that policy chokes on a header.

What the caller gets:
- `external_id`: the Message-ID without angle brackets, or "sha256:<hex>" of the raw bytes when
  the mail has none (so a second delivery of the same bytes is still recognised).
- `customer`: the From address, kind "email", lower-cased. From without an address falls back
  to Sender; when neither has one the handle's value is "" (only bounces do that in practice).
- `references`: In-Reply-To then References ids, without brackets, de-duplicated, order kept.
- `body_text` is the whole text (text/plain preferred; HTML-only mail converted to text),
  `visible_text` the new part without quoted history, `body_html` the HTML as received.
- `is_auto_reply` / `auto_reply_reason` for bounces, read receipts, complaints and auto-replies;
  see `detect_auto_reply` for the rule.
- relay mail from Amazon's buyer-seller messaging comes out as channel "amazon"
  (`channels_ingest.email.amazon.apply_amazon_relay`).

Texts never contain NUL characters or lone surrogates: PostgreSQL stores neither.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.policy
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from channels_ingest.base import CustomerHandle, InboundAttachment, NormalizedMessage, ParseError
from channels_ingest.email.amazon import apply_amazon_relay
from channels_ingest.email.html_text import html_to_text

__all__ = [
    "decode_bytes",
    "decode_header_text",
    "detect_auto_reply",
    "parse_email",
    "parse_email_message",
    "strip_quoted_text",
]

# Message-IDs longer than the database column are replaced by a digest of themselves, the same
# way for a message's own id and for the references that point at it, so threading still works.
MAX_MESSAGE_ID_LENGTH = 255
# Nested multiparts and attached messages deeper than this are kept as opaque attachments.
MAX_DEPTH = 20


# --- Charsets ---------------------------------------------------------------------------------

# What mailers mean by a label, in the order worth trying. Windows and the web treat these labels
# as their supersets (WHATWG Encoding Standard); mail from those clients follows suit.
_CHARSET_CANDIDATES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us"), ("ascii",)),
    **dict.fromkeys(
        ("iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819", "ibm819",
         "windows-1252", "cp1252", "x-cp1252"),
        ("cp1252", "latin-1"),
    ),
    **dict.fromkeys(("iso-8859-9", "iso8859-9", "latin5", "windows-1254"), ("cp1254", "iso8859-9")),
    **dict.fromkeys(("iso-8859-11", "tis-620", "windows-874"), ("cp874",)),
    **dict.fromkeys(
        ("ks_c_5601-1987", "ks_c_5601", "ks_c_5601_1987", "ksc5601", "ksc_5601", "euc-kr", "euckr",
         "korean", "csksc56011987", "iso-ir-149", "windows-949", "x-windows-949", "cp949", "uhc"),
        ("cp949",),
    ),
    **dict.fromkeys(
        ("gb2312", "gb_2312", "gb_2312-80", "csgb2312", "euc-cn", "x-euc-cn", "gbk", "x-gbk", "cp936",
         "chinese", "gb18030", "windows-936"),
        ("gb18030",),
    ),
    **dict.fromkeys(("big5", "big5-hkscs", "x-x-big5", "cn-big5", "csbig5", "cp950"), ("big5hkscs", "cp950")),
    **dict.fromkeys(
        ("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j", "ms932",
         "cp932"),
        ("cp932", "shift_jis_2004"),
    ),
    **dict.fromkeys(("euc-jp", "x-euc-jp", "eucjp"), ("euc_jp", "euc_jis_2004", "cp932")),
    **dict.fromkeys(
        ("iso-2022-jp", "csiso2022jp", "iso2022-jp"),
        ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_2004", "iso2022_jp_3"),
    ),
    **dict.fromkeys(("utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8"), ("utf-8",)),
    **dict.fromkeys(("utf-7", "unicode-1-1-utf-7", "x-utf-7"), ("utf-7",)),
    **dict.fromkeys(("macintosh", "x-mac-roman", "mac", "csmacintosh"), ("mac_roman",)),
}
# Labels that promise 7-bit or single-byte western text: mail labelled so is very often UTF-8 in
# fact, and valid UTF-8 with non-ASCII bytes is almost never anything else.
_WESTERN_CODECS = frozenset(("ascii", "cp1252", "iso8859-1"))
# Codecs that are not character sets; a charset parameter naming one is ignored.
_NOT_CHARSETS = frozenset(("undefined", "idna", "punycode", "unicode_escape", "raw_unicode_escape",
                           "mbcs", "oem", "palmos"))


def _normalise_label(label: str | None) -> str:
    if not label:
        return ""
    label = label.strip().strip("\"'").strip().lower()
    # RFC 2231 allows a language after the charset in encoded words: "utf-8*en".
    return label.split("*", 1)[0]


def _codecs_for(label: str | None) -> list[str]:
    """Python codec names to try for a MIME charset label, best first; [] when unusable."""
    label = _normalise_label(label)
    if not label or label in ("unknown-8bit", "x-unknown", "unknown", "binary", "8bit", "default"):
        return []
    names = list(_CHARSET_CANDIDATES.get(label) or _CHARSET_CANDIDATES.get(label.replace("_", "-"), ()))
    if not names:
        names = [label]
    usable = []
    for name in names:
        try:
            info = codecs.lookup(name)
        except (LookupError, ValueError):
            continue
        if info.name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):
            continue
        usable.append(info.name)
    return usable


def _try_decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


def _mostly_utf8(data: bytes) -> bool:
    """True when the bytes are UTF-8 with some broken sequences rather than another charset:
    text in a legacy charset almost never happens to form valid multi-byte UTF-8 sequences."""
    broken = data.decode("utf-8", "replace").count("\ufffd") - data.decode("utf-8", "ignore").count("\ufffd")
    decoded = sum(1 for char in data.decode("utf-8", "ignore") if ord(char) > 127)
    return decoded > 0 and decoded * 2 >= broken


def _cp1252_for_bad_bytes(error: UnicodeError) -> tuple[str, int]:
    # Mail that is mostly UTF-8 with a few raw legacy bytes (a quoted reply from an old client)
    # reads best with those bytes taken as windows-1252.
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start:error.end].decode("cp1252", "replace"), error.end


codecs.register_error("helpdesk.cp1252_fallback", _cp1252_for_bad_bytes)


def decode_bytes(data: bytes, charset: str | None = None, *, hints: Iterable[str] = ()) -> str:
    """Decode bytes that claim `charset`; never raises.

    Order: ASCII-only bytes with the declared charset (7-bit charsets such as ISO-2022-JP need
    it) or as ASCII; valid UTF-8 when the label is missing or promises western single-byte text
    (the commonest mislabel); the declared charset as its superset; UTF-8 with stray bytes read
    as windows-1252 when the bytes are mostly UTF-8; the `hints` (charsets declared elsewhere in
    the message); finally the declared charset, or windows-1252, with U+FFFD where bytes cannot
    be decoded.
    """
    if not data:
        return ""
    declared = _codecs_for(charset)
    if data.isascii():
        # ISO-2022, UTF-7 and UTF-16 give ASCII bytes their own meaning; other charsets agree.
        for name in declared:
            text = _try_decode(data, name)
            if text is not None:
                return text
        return data.decode("ascii")
    if not declared or declared[0] in _WESTERN_CODECS:
        text = _try_decode(data, "utf-8")
        if text is not None:
            return text
    for name in declared:
        if name == "ascii":
            continue
        text = _try_decode(data, name)
        if text is not None:
            return text
    if _mostly_utf8(data) and (not declared or declared[0] == "utf-8" or declared[0] in _WESTERN_CODECS):
        return data.decode("utf-8", "helpdesk.cp1252_fallback")
    for hint in hints:
        for name in _codecs_for(hint):
            if name == "ascii":
                continue
            text = _try_decode(data, name)
            if text is not None:
                return text
    if _mostly_utf8(data):
        return data.decode("utf-8", "helpdesk.cp1252_fallback")
    for name in declared:
        # Bytes that are not UTF-8 at all despite the label are most often windows-1252.
        if name not in ("ascii", "utf-8"):
            return data.decode(name, "replace")
    return data.decode("cp1252", "replace")


def _clean(text: str) -> str:
    """Text safe to store: no NUL, no lone surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if any("\ud800" <= char <= "\udfff" for char in text):
        text = "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return text


def _repair_surrogates(text: str, hints: Iterable[str] = ()) -> str:
    """The stdlib keeps undecodable 8-bit header bytes as surrogate escapes; decode them for real
    (raw UTF-8 headers are legal under RFC 6532; other 8-bit bytes get the message's charset)."""
    if not any("\udc80" <= char <= "\udcff" for char in text):
        return text
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return _clean(text)
    return decode_bytes(data, None, hints=hints)


# --- Headers ----------------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?]*?)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")


def _unfold(value: str) -> str:
    return _FOLD.sub("", value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def _encoded_word_bytes(encoding: str, payload: str) -> bytes:
    if encoding in "Bb":
        cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            return binascii.a2b_base64(cleaned)
        except (binascii.Error, ValueError):
            return payload.encode("ascii", "replace")
    data = payload.replace("_", " ").encode("utf-8", "surrogateescape")
    return _Q_ESCAPE.sub(lambda match: bytes([int(match.group(1), 16)]), data)


def decode_header_text(value: str | None, *, hints: Iterable[str] = ()) -> str:
    """Decode an unstructured header value (Subject, a display name): unfold, decode RFC 2047
    encoded words (also glued to text or split mid-character across words, as real mailers do),
    decode raw 8-bit bytes (RFC 6532). Never raises."""
    if not value:
        return ""
    hints = tuple(hints)
    text = _repair_surrogates(_unfold(str(value)), hints)
    if "=?" not in text:
        return _clean(text)
    # Pieces: ("text", str) or ("word", charset, bytes).
    pieces: list[tuple[Any, ...]] = []
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        between = text[position:match.start()]
        # Whitespace between two encoded words is folding, not content (RFC 2047 section 6.2).
        if between and not (between.isspace() and pieces and pieces[-1][0] == "word"):
            pieces.append(("text", between))
        charset = _normalise_label(match.group(1))
        data = _encoded_word_bytes(match.group(2), match.group(3))
        if pieces and pieces[-1][0] == "word" and pieces[-1][1] == charset:
            # A multi-byte character may be split across two words of the same charset.
            pieces[-1] = ("word", charset, pieces[-1][2] + data)
        else:
            pieces.append(("word", charset, data))
        position = match.end()
    if position < len(text):
        pieces.append(("text", text[position:]))
    out = []
    for piece in pieces:
        if piece[0] == "text":
            out.append(piece[1])
        else:
            out.append(decode_bytes(piece[2], piece[1], hints=hints))
    return _clean("".join(out))


def _raw_header_values(message: Message, name: str) -> list[str]:
    wanted = name.lower()
    try:
        items = list(message.raw_items())
    except Exception:
        items = list(message.items())
    return [str(value) for key, value in items if key.lower() == wanted]


def _first_header(message: Message, name: str) -> str:
    values = _raw_header_values(message, name)
    return _unfold(values[0]).strip() if values else ""


def _addresses(message: Message, name: str, hints: tuple[str, ...]) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header; addresses without "@" are dropped,
    duplicates removed. Display names are decoded, addresses kept as written."""
    values = [_repair_surrogates(_unfold(value), hints) for value in _raw_header_values(message, name)]
    if not values:
        return []
    try:
        pairs = getaddresses(values)
    except Exception:
        pairs = []
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    for display, address in pairs:
        address = _clean(address.strip().strip("<>").strip())
        if "@" not in address or any(char.isspace() for char in address):
            address = ""
        display = decode_header_text(display, hints=hints).strip().strip("\"'").strip()
        if not address and not display:
            continue
        if address and display.lower() == address.lower():
            display = ""
        key = address.lower() or display
        if key in seen:
            continue
        seen.add(key)
        result.append((display, address))
    return result


_ID_IN_BRACKETS = re.compile(r"<([^<>]*)>")


def _normalise_message_id(value: str) -> str:
    value = re.sub(r"\s+", "", _clean(value)).strip("<>")
    if len(value) > MAX_MESSAGE_ID_LENGTH:
        return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
    return value


def _message_ids(value: str) -> list[str]:
    """Message ids in a header value, without brackets. Tolerates several ids, commas and
    garbage; a bare id without brackets is accepted when it looks like one (has an "@")."""
    value = _repair_surrogates(_unfold(value))
    found = [_normalise_message_id(item) for item in _ID_IN_BRACKETS.findall(value)]
    if not found:
        found = [_normalise_message_id(token) for token in re.split(r"[\s,;]+", value) if "@" in token]
    return [item for item in found if item]


def _unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for item in items:
        if item and item not in seen:
            seen.add(item)
            result.append(item)
    return result


def _parse_date(value: str) -> datetime | None:
    if not value or not value.strip():
        return None
    # Comments such as "(EDT)" placed before the zone make the stdlib drop the zone.
    cleaned = re.sub(r"\([^)]*\)", " ", value).strip()
    try:
        parsed = parsedate_to_datetime(cleaned)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        # "-0000" means "zone unknown" (RFC 5322 section 3.3): UTC is the honest reading.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# --- Quoted history ---------------------------------------------------------------------------

_REPLY_INTRO_START = re.compile(
    r"^\s*(on|el|pe|în|in|le|am|op|il|em|den|dne|w dniu|в|il giorno)\s", re.IGNORECASE
)
_REPLY_INTRO_END = re.compile(
    r"(wrote|escribió|escribio|a scris|a écrit|a ecrit|ha scritto|escreveu|pisze|napisał|napisal"
    r"|kirjoitti|написал|написала|írta|yazdı)\s*:\s*$"
    r"|\b(schrieb|schreef|skrev|napsal)\b.*:\s*$",
    re.IGNORECASE,
)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(original message|mensaje original|mesaj original|mesajul original"
    r"|ursprüngliche nachricht|originalnachricht|message d'origine|message original"
    r"|messaggio originale|oorspronkelijk bericht|wiadomość oryginalna|исходное сообщение"
    r"|mensagem original)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_OUTLOOK_RULE = re.compile(r"^\s*_{20,}\s*$")
_OUTLOOK_FROM = re.compile(
    r"^\s*\*?(from|de|von|da|van|od|från|fra|от|lähettäjä|feladó|kimden)\s*:\*?\s*\S", re.IGNORECASE
)
_OUTLOOK_SENT = re.compile(
    r"^\s*\*?(sent|date|enviado|enviado el|fecha|gesendet|datum|envoyé|inviato|data|trimis"
    r"|verzonden|wysłano|skickat|sendt|отправлено|lähetetty|elküldve|gönderildi)\s*:",
    re.IGNORECASE,
)
_FORWARD_MARKER = re.compile(
    r"^\s*(-{2,}\s*(forwarded message|original message follows|mensaje reenviado"
    r"|weitergeleitete nachricht|message transféré|mesaj redirecționat|mesaj redirectionat"
    r"|messaggio inoltrato|doorgestuurd bericht|wiadomość przekazana|mensagem encaminhada"
    r"|пересылаемое сообщение)\s*-{2,}|begin forwarded message:|inicio del mensaje reenviado:"
    r"|anfang der weitergeleiteten nachricht:|début du message réexpédié\s?:)\s*$",
    re.IGNORECASE,
)
_FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|fw|wg|tr|rv|enc|i|doorst|pd|vs)\s*:", re.IGNORECASE)


def _reply_intro_at(lines: list[str], index: int) -> bool:
    for span in (1, 2, 3):
        if index + span > len(lines):
            break
        joined = " ".join(line.strip() for line in lines[index:index + span])
        if len(joined) > 400:
            break
        if _REPLY_INTRO_START.match(joined) and _REPLY_INTRO_END.search(joined):
            # A date or an address: "On Monday I wrote:" typed by a person is not a header.
            return bool(re.search(r"\d|@", joined))
    return False


def _outlook_header_at(lines: list[str], index: int) -> bool:
    if not _OUTLOOK_FROM.match(lines[index]):
        return False
    return any(_OUTLOOK_SENT.match(line) for line in lines[index + 1:index + 5])


def strip_quoted_text(text: str, *, forwarded: bool = False) -> str:
    """The new part of a reply: `text` without the quoted history below a reply header ("On ...
    wrote:" in the usual languages, "-----Original Message-----", Outlook's "From: / Sent:"
    block) and without a trailing block of ">" lines. Forwarded content is content: nothing is
    cut after a forward marker, nor anywhere when `forwarded` (the subject says Fwd:). If cutting
    would leave nothing, the full text is returned."""
    if not text or forwarded:
        return text
    lines = text.split("\n")
    cut = len(lines)
    for index, line in enumerate(lines):
        if _FORWARD_MARKER.match(line):
            return text
        if (
            _ORIGINAL_MESSAGE.match(line)
            or _reply_intro_at(lines, index)
            or _outlook_header_at(lines, index)
            or (_OUTLOOK_RULE.match(line) and any(_OUTLOOK_FROM.match(n) for n in lines[index + 1:index + 3]))
        ):
            cut = index
            break
    kept = lines[:cut]
    # A trailing block of quoted lines (blank lines inside it allowed) is history too.
    end = len(kept)
    while end and not kept[end - 1].strip():
        end -= 1
    start = end
    while start and (kept[start - 1].lstrip().startswith(">") or not kept[start - 1].strip()):
        start -= 1
    if start < end and any(line.lstrip().startswith(">") for line in kept[start:end]):
        kept = kept[:start]
    visible = "\n".join(kept).strip("\n").rstrip()
    return visible if visible.strip() else text


# --- format=flowed ----------------------------------------------------------------------------


def _unflow(text: str, *, delete_space: bool) -> str:
    """Undo RFC 3676 format=flowed soft line breaks (quote depth respected)."""
    out: list[str] = []
    paragraph: str | None = None
    paragraph_depth = 0

    def emit(content: str, depth: int) -> None:
        out.append((">" * depth + " " + content) if depth else content)

    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        soft = content.endswith(" ") and content != "-- "
        if soft and delete_space:
            content = content[:-1]
        if paragraph is not None and depth != paragraph_depth:
            emit(paragraph, paragraph_depth)
            paragraph = None
        paragraph = content if paragraph is None else paragraph + content
        paragraph_depth = depth
        if not soft:
            emit(paragraph, paragraph_depth)
            paragraph = None
    if paragraph is not None:
        emit(paragraph, paragraph_depth)
    return "\n".join(out)


# --- MIME tree --------------------------------------------------------------------------------

_SIGNATURE_TYPES = frozenset((
    "application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature",
))
# Alternative renderings nobody needs besides text and HTML.
_SKIPPED_ALTERNATIVES = frozenset(("text/x-amp-html", "text/watch-html"))
_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/pjpeg": ".jpg", "image/png": ".png",
    "image/gif": ".gif", "image/webp": ".webp", "image/heic": ".heic", "image/bmp": ".bmp",
    "image/tiff": ".tif", "image/svg+xml": ".svg", "application/pdf": ".pdf", "text/plain": ".txt",
    "text/html": ".html", "text/csv": ".csv", "text/calendar": ".ics", "application/zip": ".zip",
    "message/rfc822": ".eml", "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "audio/mpeg": ".mp3", "audio/ogg": ".ogg", "video/mp4": ".mp4", "video/quicktime": ".mov",
    "message/delivery-status": ".txt", "text/rfc822-headers": ".txt",
}


@dataclass
class _Parts:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[InboundAttachment] = field(default_factory=list)
    forwarded: list[Message] = field(default_factory=list)

    def extend(self, other: _Parts, *, text: bool = True) -> None:
        if text:
            self.plain.extend(other.plain)
            self.html.extend(other.html)
        self.attachments.extend(other.attachments)
        self.forwarded.extend(other.forwarded)


@dataclass
class _Report:
    """What a multipart/report says: its type and the machine-readable parts."""

    report_type: str = ""
    delivery_status: list[Message] = field(default_factory=list)
    disposition: list[Message] = field(default_factory=list)
    feedback: list[Message] = field(default_factory=list)
    original_headers: list[Message] = field(default_factory=list)


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _param(part: Message, name: str, header: str = "content-type") -> str:
    try:
        value = part.get_param(name, header=header)
    except Exception:
        return ""
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    return str(value) if value is not None else ""


def _disposition(part: Message) -> str:
    try:
        return part.get_content_disposition() or ""
    except Exception:
        raw = _first_header(part, "content-disposition").lower()
        return raw.split(";", 1)[0].strip()


def _charset(part: Message) -> str:
    try:
        return part.get_content_charset() or ""
    except Exception:
        return _param(part, "charset")


def _payload_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _message_bytes(message: Message) -> bytes:
    """Serialise an attached message as close to how it arrived as the stdlib allows."""
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=email.policy.compat32).flatten(message)
        return buffer.getvalue()
    except Exception:
        pass
    try:
        return message.as_string(policy=email.policy.compat32).encode("utf-8", "surrogateescape")
    except Exception:
        return b""


def _safe_filename(name: str) -> str:
    name = _clean(name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip().strip(".")
    return name[:255]


class _Collector:
    """Walks a MIME tree into text, HTML, attachments, attached messages and report parts."""

    def __init__(self, hints: tuple[str, ...]) -> None:
        self.hints = hints
        self.report = _Report()
        self.generated_names = 0

    # --- names ------------------------------------------------------------------------------

    def _filename(self, part: Message) -> str:
        try:
            name = part.get_filename() or ""
        except Exception:
            name = _param(part, "filename", "content-disposition") or _param(part, "name")
        if isinstance(name, tuple):  # defensive: some stdlib paths hand back RFC 2231 triples
            name = email.utils.collapse_rfc2231_value(name)
        return _safe_filename(decode_header_text(str(name), hints=self.hints)) if name else ""

    def _generated_name(self, content_type: str) -> str:
        self.generated_names += 1
        main_type = content_type.split("/", 1)[0]
        stem = {"image": "image", "audio": "audio", "video": "video"}.get(main_type, "attachment")
        if content_type == "text/calendar":
            stem = "invite"
        extension = _EXTENSIONS.get(content_type) or ".bin"
        return f"{stem}-{self.generated_names}{extension}"

    def _attachment(
        self, part: Message, content_type: str, content: bytes, name: str = ""
    ) -> InboundAttachment:
        filename = name or self._filename(part) or self._generated_name(content_type)
        content_id = _clean(_first_header(part, "content-id")).strip().strip("<>").strip()
        return InboundAttachment(
            filename=filename,
            content_type=content_type,
            content=content,
            content_id=content_id[:255],
            inline=_disposition(part) == "inline",
        )

    # --- text -------------------------------------------------------------------------------

    def text_of(self, part: Message) -> str:
        text = decode_bytes(_payload_bytes(part), _charset(part), hints=self.hints)
        text = _clean(text.replace("\r\n", "\n").replace("\r", "\n"))
        if _param(part, "format").lower() == "flowed":
            text = _unflow(text, delete_space=_param(part, "delsp").lower() == "yes")
        return text

    # --- tree -------------------------------------------------------------------------------

    def collect(self, part: Message, depth: int = 0, *, in_report: bool = False) -> _Parts:
        content_type = _content_type(part)
        if depth > MAX_DEPTH:
            parts = _Parts()
            parts.attachments.append(self._attachment(part, content_type, _message_bytes(part)))
            return parts
        if content_type.startswith("message/"):
            return self._message_part(part, content_type, in_report=in_report)
        if part.is_multipart():
            children = [child for child in part.get_payload() if isinstance(child, Message)]
            if content_type == "multipart/alternative":
                return self._alternative(children, depth)
            if content_type == "multipart/related":
                return self._related(part, children, depth)
            if content_type == "multipart/report":
                return self._report(part, children, depth)
            if content_type == "multipart/signed":
                # The signature is for machines; the signed content is the message.
                children = [child for child in children if _content_type(child) not in _SIGNATURE_TYPES]
            return self._mixed(children, depth)
        if content_type.startswith("multipart/"):
            # Declared multipart, but the parser found no boundary: salvage what text it has.
            return self._broken_multipart(part)
        return self._leaf(part, content_type, in_report=in_report)

    def _leaf(self, part: Message, content_type: str, *, in_report: bool) -> _Parts:
        parts = _Parts()
        disposition = _disposition(part)
        filename = self._filename(part)
        is_text = content_type in ("text/plain", "text/html", "text/enriched")
        if is_text and disposition != "attachment" and not filename:
            text = self.text_of(part)
            if content_type == "text/html":
                parts.html.append(text)
            else:
                parts.plain.append(text)
            return parts
        if content_type == "text/rfc822-headers" and in_report:
            headers = HeaderParser(policy=email.policy.compat32).parsestr(self.text_of(part))
            self.report.original_headers.append(headers)
            return parts
        parts.attachments.append(self._attachment(part, content_type, _payload_bytes(part), filename))
        return parts

    def _message_part(self, part: Message, content_type: str, *, in_report: bool) -> _Parts:
        parts = _Parts()
        payload = part.get_payload()
        inner = None
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            inner = payload[0]
        if content_type in ("message/delivery-status", "message/global-delivery-status"):
            blocks = payload if isinstance(payload, list) else []
            self.report.delivery_status.extend(block for block in blocks if isinstance(block, Message))
            return parts
        if content_type in ("message/disposition-notification", "message/global-disposition-notification"):
            if inner is not None:
                self.report.disposition.append(inner)
            return parts
        if content_type == "message/feedback-report":
            if inner is not None:
                self.report.feedback.append(inner)
            return parts
        if inner is None:
            data = _payload_bytes(part)
            if content_type in ("message/rfc822", "message/global") and data.strip():
                inner = email.message_from_bytes(data, policy=email.policy.compat32)
            else:
                parts.attachments.append(self._attachment(part, content_type, data))
                return parts
        if in_report:
            self.report.original_headers.append(inner)
            default_name = "original-message.eml"
        else:
            parts.forwarded.append(inner)
            default_name = "forwarded.eml"
        name = self._filename(part) or default_name
        attachment = self._attachment(part, "message/rfc822", _message_bytes(inner), name)
        parts.attachments.append(attachment)
        return parts

    def _alternative(self, children: list[Message], depth: int) -> _Parts:
        results = [
            self.collect(child, depth + 1)
            for child in children
            if _content_type(child) not in _SKIPPED_ALTERNATIVES
        ]
        merged = _Parts()
        plain = next((r for r in results if any(text.strip() for text in r.plain)), None)
        html = next((r for r in reversed(results) if any(text.strip() for text in r.html)), None)
        if plain is not None:
            merged.plain = list(plain.plain)
        if html is not None:
            merged.html = list(html.html)
        for result in results:
            merged.extend(result, text=False)
        return merged

    def _related(self, part: Message, children: list[Message], depth: int) -> _Parts:
        if not children:
            return _Parts()
        start = _param(part, "start").strip().strip("<>")
        root_index = 0
        if start:
            for index, child in enumerate(children):
                if _first_header(child, "content-id").strip().strip("<>") == start:
                    root_index = index
                    break
        merged = self.collect(children[root_index], depth + 1)
        for index, child in enumerate(children):
            if index != root_index:
                # Usually images for the root's cid: links; a stray text part is still text.
                merged.extend(self.collect(child, depth + 1))
        return merged

    def _mixed(self, children: list[Message], depth: int) -> _Parts:
        results = [self.collect(child, depth + 1) for child in children]
        any_plain = any(result.plain for result in results)
        merged = _Parts()
        for result in results:
            if any_plain and result.html and not result.plain:
                # An HTML-only piece among plain ones (Apple Mail interleaves them): keep its text
                # in order so body_text misses nothing.
                result.plain = [html_to_text(html) for html in result.html]
            merged.extend(result)
        return merged

    def _report(self, part: Message, children: list[Message], depth: int) -> _Parts:
        self.report.report_type = _param(part, "report-type").lower()
        merged = _Parts()
        for index, child in enumerate(children):
            # The first part is the human-readable explanation; the rest is for machines.
            merged.extend(self.collect(child, depth + 1, in_report=index > 0))
        return merged

    def _broken_multipart(self, part: Message) -> _Parts:
        """Text of a multipart whose boundary never appears: drop delimiter-like lines and the
        part headers that follow them, decode base64 chunks that really are base64."""
        raw = part.get_payload()
        if not isinstance(raw, str):
            raw = decode_bytes(_payload_bytes(part), None, hints=self.hints)
        raw = _repair_surrogates(raw, self.hints).replace("\r\n", "\n").replace("\r", "\n")
        chunks = re.split(r"(?m)^--\S*\s*$", raw)
        texts = []
        for chunk in chunks:
            chunk = chunk.strip("\n")
            if not chunk.strip():
                continue
            headers, body = {}, chunk
            lines = chunk.split("\n")
            if re.match(r"^[A-Za-z][A-Za-z0-9-]*:", lines[0]):
                index = 0
                while index < len(lines) and lines[index].strip() and (
                    re.match(r"^[A-Za-z][A-Za-z0-9-]*:", lines[index]) or lines[index][:1] in " \t"
                ):
                    key, _, value = lines[index].partition(":")
                    headers[key.strip().lower()] = value.strip().lower()
                    index += 1
                body = "\n".join(lines[index:])
            if "base64" in headers.get("content-transfer-encoding", ""):
                try:
                    decoded = binascii.a2b_base64(re.sub(r"\s+", "", body).encode("ascii"), strict_mode=True)
                    body = decode_bytes(decoded, None, hints=self.hints)
                except (binascii.Error, ValueError, UnicodeError):
                    pass  # not base64 after all: the text as written is the best we have
            if "html" in headers.get("content-type", ""):
                body = html_to_text(body) or body
            if body.strip():
                texts.append(body.strip())
        parts = _Parts()
        if texts:
            parts.plain.append(_clean("\n\n".join(texts)))
        return parts


def _charset_hints(message: Message) -> tuple[str, ...]:
    """Charsets the message declares anywhere: the best guess for its undeclared 8-bit bytes."""
    hints: list[str] = []
    try:
        parts = list(message.walk())
    except Exception:
        parts = [message]
    for part in parts[:50]:
        charset = _charset(part)
        if charset and charset.lower() not in ("us-ascii", "ascii") and charset not in hints:
            hints.append(charset)
    return tuple(hints)


# --- Automatic replies and bounces ------------------------------------------------------------

_BOUNCE_SUBJECTS = re.compile(
    r"^\s*(undeliverable\s*:|undelivered mail|delivery status notification|mail delivery failed"
    r"|(mail )?delivery (failure|has failed|failed)|returned mail\s*:|failure notice"
    r"|mail delivery (subsystem|system)|unzustellbar\s*:|nicht zustellbar|non remis\s*:"
    r"|non distribuable|no se puede entregar\s*:|non recapitabile\s*:|onbestelbaar\s*:"
    r"|niedostarczalne\s*:|nedoručitelné\s*:|message not delivered|undelivered message)",
    re.IGNORECASE,
)
_AUTO_REPLY_SUBJECTS = re.compile(
    r"^\s*(automatic reply|auto[ -]?reply|auto[ -]?response|autoresponse|out of (the )?office"
    r"|respuesta autom[aá]tica|r[ăa]spuns automat|abwesenheitsnotiz|automatische antwort"
    r"|r[ée]ponse automatique|risposta automatica|automatisch antwoord|automatyczna odpowied[źz]"
    r"|resposta autom[aá]tica|автоматический ответ|автоответ|otomatik yan[ıi]t|自动回复|自動応答"
    r"|自動返信)",
    re.IGNORECASE,
)
# Openings of out-of-office texts; only ever a weak hint (a customer may write "I am away").
_OUT_OF_OFFICE_TEXT = re.compile(
    r"\b(i am|i'm|i will be) (currently )?(out of (the )?office|away from the office|on (annual )?leave)"
    r"|\bestoy (actualmente )?fuera de la oficina|\bich bin (derzeit |zurzeit )?(nicht im büro|abwesend)"
    r"|\bje suis (actuellement )?absent|\bsunt (plecat|în concediu|in concediu)"
    r"|\bthank you for your (e-?mail|message)\.? i am (currently )?(out|away)",
    re.IGNORECASE,
)
_PRECEDENCE_AUTO = frozenset(("bulk", "junk", "list", "auto_reply", "auto-reply"))
_BOUNCE_LOCAL_PARTS = frozenset(("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"))


@dataclass
class AutoReply:
    """The verdict of `detect_auto_reply`: `reason` is "" for mail from a person."""

    reason: str = ""
    signals: list[str] = field(default_factory=list)

    @property
    def is_auto_reply(self) -> bool:
        return bool(self.reason)


def detect_auto_reply(
    *,
    headers: dict[str, str],
    subject: str,
    from_address: str,
    from_name: str,
    report_type: str,
    has_delivery_status: bool,
    text: str,
) -> AutoReply:
    """Decide whether a message was written by a machine. `headers` maps lower-case names to
    first values.

    The rule. Any one of these is enough:
    - a delivery report (multipart/report of type delivery-status or a message/delivery-status
      part), X-Failed-Recipients, a From of MAILER-DAEMON/postmaster (or "Mail Delivery System"
      without an address), or a bounce subject ("Undeliverable:", "Delivery Status Notification",
      "Mail delivery failed", ...) -> reason "bounce";
    - a read receipt (report type disposition-notification) -> "read_receipt";
    - a spam complaint (report type feedback-report) -> "feedback_report";
    - Auto-Submitted with any value but "no" (RFC 3834) -> "auto_submitted";
    - X-Autoreply or X-Autorespond (any value but no/false/0) -> "autoreply_header";
    - an auto-reply subject ("Automatic reply", "Out of Office", "Respuesta automática",
      "Răspuns automat", "Abwesenheitsnotiz", ...) at the start of the subject -> "auto_reply_subject";
    - Precedence bulk/junk/list/auto_reply -> "precedence";
    - an empty Return-Path "<>" (null envelope sender, only used by machines) -> "null_sender".
    X-Auto-Response-Suppress is NOT enough on its own: Outlook and Exchange put it on ordinary
    mail, meeting requests and bulk mail alike. Its OOF/AutoReply/All values count as one weak
    hint; an Exchange inbox-rule loop header and an out-of-office opening of the text count as
    one each; two weak hints together make "heuristic".
    """
    signals: list[str] = []
    reasons: list[str] = []

    def found(reason: str, signal: str) -> None:
        signals.append(signal)
        if reason not in reasons:
            reasons.append(reason)

    local_part = from_address.rpartition("@")[0].lower() if from_address else ""
    if report_type == "delivery-status" or has_delivery_status:
        found("bounce", "delivery status report")
    if headers.get("x-failed-recipients"):
        found("bounce", "X-Failed-Recipients")
    if local_part in _BOUNCE_LOCAL_PARTS:
        found("bounce", f"From: {from_address}")
    elif not from_address and re.search(r"mail delivery (system|subsystem)", from_name, re.IGNORECASE):
        found("bounce", f"From: {from_name}")
    if _BOUNCE_SUBJECTS.match(subject):
        found("bounce", "bounce subject")
    if report_type == "disposition-notification":
        found("read_receipt", "disposition notification report")
    if report_type == "feedback-report":
        found("feedback_report", "feedback report")
    auto_submitted = headers.get("auto-submitted", "").strip().lower()
    if auto_submitted and auto_submitted.split(";", 1)[0].strip() != "no":
        found("auto_submitted", f"Auto-Submitted: {auto_submitted}")
    for name, label in (("x-autoreply", "X-Autoreply"), ("x-autorespond", "X-Autorespond")):
        value = headers.get(name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            found("autoreply_header", f"{label}: {value.strip()}")
    if _AUTO_REPLY_SUBJECTS.match(subject):
        found("auto_reply_subject", "auto-reply subject")
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _PRECEDENCE_AUTO:
        found("precedence", f"Precedence: {precedence}")
    if "return-path" in headers and re.fullmatch(r"\s*<\s*>\s*", headers["return-path"]):
        found("null_sender", "Return-Path: <>")

    weak: list[str] = []
    suppress = headers.get("x-auto-response-suppress", "").lower()
    if re.search(r"\b(oof|autoreply|all)\b", suppress):
        weak.append(f"X-Auto-Response-Suppress: {suppress}")
    if "x-ms-exchange-inbox-rules-loop" in headers:
        weak.append("X-MS-Exchange-Inbox-Rules-Loop")
    if _OUT_OF_OFFICE_TEXT.search(text[:500]):
        weak.append("out-of-office text")
    if len(weak) >= 2:
        for hint in weak:
            found("heuristic", hint)
    return AutoReply(reason=reasons[0] if reasons else "", signals=signals)


def _field(block: Message, name: str) -> str:
    value = _first_header(block, name)
    return _clean(_repair_surrogates(value)).strip()


def _after_type(value: str) -> str:
    """"rfc822; user@example.com" -> "user@example.com"; "smtp; 550 ..." -> "550 ..."."""
    return value.split(";", 1)[1].strip() if ";" in value else value.strip()


_ENHANCED_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_SMTP_REPLY = re.compile(r"\b[45]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b")


def _bounce_details(report: _Report, headers: dict[str, str], text: str) -> dict[str, str]:
    """Recipient, status and diagnostic of a bounce, from the DSN fields when there are any and
    from X-Failed-Recipients and the human-readable text otherwise."""
    details: dict[str, str] = {}
    blocks = [
        block
        for block in report.delivery_status
        if _field(block, "final-recipient") or _field(block, "original-recipient")
    ]
    failed = [block for block in blocks if _field(block, "action").lower() == "failed"]
    block = (failed or blocks or [None])[0]
    if block is not None:
        recipient = _field(block, "final-recipient") or _field(block, "original-recipient")
        details["recipient"] = _after_type(recipient)
        details["status"] = _field(block, "status")
        details["action"] = _field(block, "action").lower()
        details["diagnostic"] = re.sub(r"\s+", " ", _after_type(_field(block, "diagnostic-code")))
    if not details.get("recipient") and headers.get("x-failed-recipients"):
        details["recipient"] = headers["x-failed-recipients"].split(",")[0].strip()
    if not details.get("status"):
        match = _ENHANCED_STATUS.search(text)
        if match:
            details["status"] = match.group(1)
    if not details.get("diagnostic"):
        match = _SMTP_REPLY.search(text)
        if match:
            paragraph = text[match.start():].split("\n\n", 1)[0]
            details["diagnostic"] = re.sub(r"\s+", " ", paragraph).strip()
    for original in report.original_headers:
        ids = _message_ids(_first_header(original, "message-id"))
        if ids:
            details["original_message_id"] = ids[0]
            break
    return {key: value[:1000] for key, value in details.items() if value}


def _read_receipt_details(report: _Report) -> dict[str, str]:
    details: dict[str, str] = {}
    for block in report.disposition:
        details["disposition"] = _field(block, "disposition")
        details["recipient"] = _after_type(_field(block, "final-recipient"))
        ids = _message_ids(_field(block, "original-message-id"))
        if ids:
            details["original_message_id"] = ids[0]
        break
    return {key: value for key, value in details.items() if value}


# --- The parse --------------------------------------------------------------------------------


def _forward_note(inner: Message, hints: tuple[str, ...]) -> str:
    """A readable summary of an attached message, for mail whose only content is that message."""
    lines = ["---------- Forwarded message ----------"]
    for name in ("From", "Date", "Subject", "To"):
        value = decode_header_text(_first_header(inner, name), hints=hints).strip()
        if value:
            lines.append(f"{name}: {value}")
    collector = _Collector(hints)
    try:
        parts = collector.collect(inner, 1)
        text = "\n\n".join(t.strip() for t in parts.plain if t.strip())
        if not text and parts.html:
            text = html_to_text("\n".join(parts.html))
    except Exception:
        text = ""
    if text:
        lines.extend(["", text])
    return "\n".join(lines)


def _raw_of(message: Message) -> bytes:
    try:
        return message.as_bytes(policy=email.policy.compat32)
    except Exception:
        return _message_bytes(message)


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")


def _parse(message: Message, raw: bytes | None, mailbox_address: str) -> NormalizedMessage:
    hints = _charset_hints(message)
    header_names = {
        "auto-submitted", "x-autoreply", "x-autorespond", "x-auto-response-suppress", "precedence",
        "return-path", "x-failed-recipients", "x-ms-exchange-inbox-rules-loop", "content-language",
    }
    headers = {
        name: decode_header_text(_first_header(message, name), hints=hints)
        for name in header_names
        if _raw_header_values(message, name)
    }

    from_list = _addresses(message, "from", hints)
    sender = next(((name, address) for name, address in from_list if address), None)
    if sender is None:
        sender = next(((n, a) for n, a in _addresses(message, "sender", hints) if a), None)
    from_name, from_address = sender or (from_list[0] if from_list else ("", ""))
    subject = re.sub(r"\s+", " ", decode_header_text(_first_header(message, "subject"), hints=hints)).strip()

    collector = _Collector(hints)
    parts = collector.collect(message)
    plain = "\n\n".join(_tidy_text(text) for text in parts.plain if text.strip())
    body_html = "\n".join(text for text in parts.html if text.strip())
    body_text = plain if plain.strip() else html_to_text(body_html)
    if not body_text.strip() and parts.forwarded:
        body_text = "\n\n".join(_forward_note(inner, hints) for inner in parts.forwarded)
    body_text = _clean(_tidy_text(body_text))
    forwarded = bool(_FORWARD_SUBJECT.match(subject))
    visible_text = strip_quoted_text(body_text, forwarded=forwarded)

    # Inline means shown inside the message: sent as inline, or referenced from the HTML by cid.
    referenced = {
        re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), cid).strip("<>")
        for cid in re.findall(r"cid:([^\"'\s>)]+)", body_html, re.IGNORECASE)
    }
    for attachment in parts.attachments:
        if attachment.content_id and attachment.content_id in referenced:
            attachment.inline = True

    message_ids = _message_ids(_first_header(message, "message-id"))
    message_id = message_ids[0] if message_ids else ""
    if message_id:
        external_id = message_id
    else:
        data = raw if raw is not None else _raw_of(message)
        external_id = "sha256:" + hashlib.sha256(data).hexdigest()
    in_reply_to = _unique(
        found for value in _raw_header_values(message, "in-reply-to") for found in _message_ids(value)
    )
    references = _unique([
        *in_reply_to,
        *(found for value in _raw_header_values(message, "references") for found in _message_ids(value)),
    ])

    report = collector.report
    verdict = detect_auto_reply(
        headers=headers,
        subject=subject,
        from_address=from_address,
        from_name=from_name,
        report_type=report.report_type,
        has_delivery_status=bool(report.delivery_status),
        text=visible_text,
    )

    address = from_address.lower()
    # The mailbox may be given as "Support <support@shop.example>".
    mailbox = (getaddresses([mailbox_address])[0][1] if mailbox_address.strip() else "").strip().lower()
    metadata: dict[str, Any] = {
        "message_id": message_id,
        "in_reply_to": in_reply_to,
        "from": address,
        "to": [a.lower() for _, a in _addresses(message, "to", hints) if a],
        "cc": [a.lower() for _, a in _addresses(message, "cc", hints) if a],
        "reply_to": [a.lower() for _, a in _addresses(message, "reply-to", hints) if a],
        "delivered_to": _unique(
            a.lower()
            for name in ("delivered-to", "x-original-to")
            for _, a in _addresses(message, name, hints)
            if a
        ),
        "auto_submitted": headers.get("auto-submitted", "").strip(),
        "content_language": headers.get("content-language", "").strip(),
        "from_mailbox": bool(address and mailbox and address == mailbox),
    }
    if verdict.is_auto_reply:
        metadata["auto_reply_signals"] = verdict.signals
    if verdict.reason == "bounce" or report.delivery_status:
        bounce = _bounce_details(report, headers, body_text)
        if bounce:
            metadata["bounce"] = bounce
    if report.disposition:
        receipt = _read_receipt_details(report)
        if receipt:
            metadata["read_receipt"] = receipt
    defects = sorted(
        {type(defect).__name__ for part in _walk(message) for defect in getattr(part, "defects", [])}
    )
    if defects:
        metadata["parse_defects"] = defects

    normalized = NormalizedMessage(
        channel="email",
        external_id=external_id,
        customer=CustomerHandle(kind="email", value=address, display_name=from_name[:200], email=address),
        body_text=body_text,
        visible_text=visible_text,
        body_html=_clean(body_html),
        subject=subject,
        references=references,
        sent_at=_parse_date(_first_header(message, "date")),
        attachments=parts.attachments,
        is_auto_reply=verdict.is_auto_reply,
        auto_reply_reason=verdict.reason,
        metadata=metadata,
    )
    return apply_amazon_relay(normalized)


def _walk(message: Message) -> list[Message]:
    try:
        return list(message.walk())
    except Exception:
        return [message]


def _salvage(raw: bytes, mailbox_address: str) -> NormalizedMessage:
    """Last resort when even the compat32 parse fails: keep the text so nothing is lost."""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    text = _tidy_text(_clean(decode_bytes(body or head)))
    return NormalizedMessage(
        channel="email",
        external_id="sha256:" + hashlib.sha256(raw).hexdigest(),
        customer=CustomerHandle(kind="email", value=""),
        body_text=text,
        visible_text=text,
        metadata={"parser": "salvage", "from_mailbox": False},
    )


def parse_email_message(
    message: Message, *, raw: bytes | None = None, mailbox_address: str = ""
) -> NormalizedMessage:
    """Normalise an already parsed message (any policy; e.g. django-anymail's
    AnymailInboundMessage). Pass `raw` when you have the original bytes: it is the fallback
    source when the message object cannot be read, and what "sha256:" ids are computed from.

    `mailbox_address` is the address of the mailbox that received the mail; mail from it gets
    metadata["from_mailbox"] = True (deciding what to do with it is the caller's job).
    Never raises on malformed content.
    """
    try:
        return _parse(message, raw, mailbox_address)
    except Exception:
        data = raw if raw is not None else _raw_of(message)
        if not data:
            raise
    try:
        fallback = email.message_from_bytes(data, policy=email.policy.compat32)
        normalized = _parse(fallback, data, mailbox_address)
        normalized.metadata["parser"] = "compat32"
        return normalized
    except Exception:
        return _salvage(data, mailbox_address)


def parse_email(raw: bytes, *, mailbox_address: str = "") -> NormalizedMessage:
    """Normalise one raw RFC 5322 message. Raises ParseError only when there is nothing to parse
    (empty input); malformed mail of any kind is decoded as well as it can be."""
    if isinstance(raw, memoryview | bytearray):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise TypeError("parse_email expects bytes")
    if not raw.strip():
        raise ParseError("empty email")
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception:
        try:
            message = email.message_from_bytes(raw, policy=email.policy.compat32)
        except Exception:  # e.g. RecursionError on absurdly nested multiparts
            return _salvage(raw, mailbox_address)
    return parse_email_message(message, raw=raw, mailbox_address=mailbox_address)
