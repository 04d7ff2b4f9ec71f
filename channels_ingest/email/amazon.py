"""Amazon buyer-seller messaging, as it reaches a seller's mailbox.

Amazon relays buyer messages by email from an anonymised address at `marketplace.amazon.<tld>`
and forwards the seller's replies to that address back to the buyer, after checking them against
its communication guidelines: messages only to complete an order or answer a customer service
question, no links outside Amazon, no contact details, attachments of some types up to 10 MB.
See the Buyer-Seller Messaging Service help page,
https://sellercentral.amazon.com/gp/help/external/200389080, and Amazon's Communication
Guidelines in Seller Central.

- `marketplace_for_address` recognises a relay address; lookalike domains never match.
- `apply_amazon_relay` turns a parsed relay email into an "amazon" channel message.
- `check_amazon_reply` lists what in an agent's reply Amazon would reject or flag.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from django.utils.translation import gettext as _

from channels_ingest.base import CustomerHandle, NormalizedMessage

# Relay domain -> marketplace code (the value of Ticket.marketplace / NormalizedMessage.marketplace).
MARKETPLACE_TLDS: tuple[str, ...] = (
    "com", "co.uk", "de", "es", "fr", "it", "nl", "pl", "se", "com.tr", "ca", "com.mx", "com.br",
    "co.jp", "com.au", "in", "ae", "sa", "sg", "eg", "com.be",
)
RELAY_DOMAINS: dict[str, str] = {f"marketplace.amazon.{tld}": f"amazon.{tld}" for tld in MARKETPLACE_TLDS}

# Amazon order ids: 3-7-7 digits, e.g. 171-1234567-1234567.
ORDER_ID = re.compile(r"(?<![\d-])\d{3}-\d{7}-\d{7}(?![\d-])")
_LABELLED_ASIN = re.compile(r"\bASIN\s*[:#]?\s*([A-Z0-9]{10})\b", re.IGNORECASE)
# Unlabelled, only the B0 form is distinctive enough (book ASINs are ISBN-10s).
_BARE_ASIN = re.compile(r"\b(B0[A-Z0-9]{8})\b")
# "Juan Pérez - Amazon Marketplace", "Jean Dupont - Amazon", "Max via Amazon.de" ...
_NAME_SUFFIX = re.compile(
    r"\s*(?:[-–—|:]\s*|\b(?:via|über|uber|par|por|vía|tramite|door|przez|från|через)\s+)"
    r"(?:amazon(?:\.[a-z]{2,3}(?:\.[a-z]{2})?)?(?:\s+marketplace)?"
    r"|marketplace\s+(?:de\s+|di\s+|d'|von\s+)?amazon(?:\.[a-z]{2,3}(?:\.[a-z]{2})?)?)\s*$",
    re.IGNORECASE,
)
# Amazon wraps the buyer's words between two marker lines ("---- Begin message ----" ...).
_MARKER_LINE = re.compile(r"^\s*-{5,}\s*[^-\s][^-]*?\s*-{5,}\s*$")


def marketplace_for_address(address: str) -> str:
    """The marketplace code ("amazon.es") of an Amazon relay address, "" for any other address.
    The domain must be exactly `marketplace.amazon.<tld>` (case-insensitive)."""
    local, at, domain = (address or "").strip().rpartition("@")
    if not at or not local:
        return ""
    return RELAY_DOMAINS.get(domain.lower().rstrip("."), "")


def buyer_name(display_name: str) -> str:
    """The buyer's name without the " - Amazon Marketplace"-style suffix Amazon appends."""
    name = display_name.strip().strip("\"'").strip()
    stripped = _NAME_SUFFIX.sub("", name).strip()
    if re.fullmatch(r"(amazon(\.[a-z.]+)?( marketplace)?|marketplace)", stripped, re.IGNORECASE):
        return ""
    return stripped


def find_order_id(*texts: str) -> str:
    """The first Amazon order id in the texts, searched in order; "" if none."""
    for text in texts:
        match = ORDER_ID.search(text or "")
        if match:
            return match.group(0)
    return ""


def find_asin(*texts: str) -> str:
    """A labelled ASIN ("ASIN: B0C1234567") anywhere, else the first bare B0… ASIN; "" if none."""
    for text in texts:
        match = _LABELLED_ASIN.search(text or "")
        if match:
            return match.group(1).upper()
    for text in texts:
        match = _BARE_ASIN.search(text or "")
        if match:
            return match.group(1)
    return ""


def _buyer_message(text: str) -> str:
    """The buyer's words when Amazon framed them between two marker lines; else ""."""
    lines = text.split("\n")
    markers = [index for index, line in enumerate(lines) if _MARKER_LINE.match(line)]
    if len(markers) < 2:
        return ""
    inner = "\n".join(lines[markers[0] + 1:markers[1]]).strip()
    return inner


def apply_amazon_relay(message: NormalizedMessage) -> NormalizedMessage:
    """Return `message` as an Amazon message when it comes from a relay address, else unchanged.

    For relay mail: channel "amazon", customer kind "amazon_relay" whose value is the relay
    address (stable per buyer; it is not the buyer's own email, so `email` stays empty),
    `marketplace` from the relay domain, `order_reference` the first order id in the subject or
    text, metadata["asin"] when an ASIN is mentioned, and `visible_text` narrowed to the buyer's
    words when Amazon framed them between marker lines.
    """
    address = (message.customer.email or message.customer.value or "").strip().lower()
    marketplace = marketplace_for_address(address)
    if not marketplace:
        return message
    metadata = dict(message.metadata)
    metadata["amazon_relay"] = True
    asin = find_asin(message.subject, message.body_text)
    if asin:
        metadata["asin"] = asin
    visible = _buyer_message(message.visible_text) or message.visible_text
    return dataclasses.replace(
        message,
        channel="amazon",
        customer=CustomerHandle(
            kind="amazon_relay",
            value=address,
            display_name=buyer_name(message.customer.display_name),
        ),
        marketplace=marketplace,
        order_reference=message.order_reference or find_order_id(message.subject, message.body_text),
        visible_text=visible,
        metadata=metadata,
    )


# --- Replies ----------------------------------------------------------------------------------

ALLOWED_ATTACHMENT_EXTENSIONS = frozenset(("pdf", "jpg", "jpeg", "png", "gif", "txt", "doc", "docx"))
MAX_ATTACHMENTS_BYTES = 10 * 1024 * 1024

# Hosts a reply may link to: Amazon's own storefronts and short links.
_AMAZON_HOSTS = re.compile(
    r"(^|\.)(amazon\.(com|co\.uk|de|es|fr|it|nl|pl|se|com\.tr|ca|com\.mx|com\.br|co\.jp|com\.au|in|ae"
    r"|sa|sg|eg|com\.be)|amzn\.(to|eu|asia|com)|a\.co)$",
    re.IGNORECASE,
)
_URL = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"')\]]+"
    r"|\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"(?:com|net|org|info|biz|shop|store|online|site|app|io|co|me|eu|es|de|fr|it|nl|pl|se|ro|uk|pt"
    r"|be|at|ch|ie|us|ca|mx|br|jp|au|in|ae|sa|sg|eg|tr|ly|gl|link)\b(?:/[^\s<>\"')\]]*)?",
    re.IGNORECASE,
)
_EMAIL = re.compile(
    r"\b[A-Z0-9._%+-]+@[A-Z0-9](?:[A-Z0-9-]*[A-Z0-9])?(?:\.[A-Z0-9](?:[A-Z0-9-]*[A-Z0-9])?)+\b", re.IGNORECASE
)
# A phone number: an international prefix or digit groups with separators, 9-15 digits in all.
# Runs of digits without separators (tracking numbers, order ids) are not phone numbers unless
# a phone word stands right before them.
_PHONE = re.compile(r"(?<![\w+(])(?:\+|00)?\(?\d[\d ().\-/]{6,22}\d(?!\w)")
_PHONE_WORDS = re.compile(
    r"(phone|tel|tlf|telephone|teléfono|telefono|telefon|móvil|movil|mobile|cell|whatsapp|call|llámanos"
    r"|llamar|sună|suna|anrufen|appelez|numéro|número|numar|număr)\W{0,3}$",
    re.IGNORECASE,
)
_DATE_LIKE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")


def _host_of(url: str) -> str:
    host = re.sub(r"^[a-z]+://", "", url, flags=re.IGNORECASE).split("/", 1)[0]
    return host.split("@")[-1].split(":", 1)[0].rstrip(".").lower()


def _find_links(text: str) -> list[str]:
    links = []
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        # Addresses are reported as addresses, not as links to their domain.
        if match.start() and text[match.start() - 1] == "@":
            continue
        if _AMAZON_HOSTS.search(_host_of(url)):
            continue
        bare = not re.match(r"(?i)(https?://|ftp://|www\.)", url)
        if bare and url != url.lower():
            # "pedido.Es decir": a missing space after a full stop, not a web address.
            continue
        if url not in links:
            links.append(url)
    return links


def _find_emails(text: str) -> list[str]:
    found = []
    for match in _EMAIL.finditer(text):
        address = match.group(0)
        domain = address.rpartition("@")[2]
        if _AMAZON_HOSTS.search(domain) or marketplace_for_address(address):
            continue
        if address not in found:
            found.append(address)
    return found


def _find_phones(text: str) -> list[str]:
    # Order ids and ASINs are the one kind of long number a reply must be able to carry.
    text = ORDER_ID.sub(" ", text)
    found = []
    for match in _PHONE.finditer(text):
        candidate = match.group(0).strip()
        digits = re.sub(r"\D", "", candidate)
        if not 9 <= len(digits) <= 15 or _DATE_LIKE.match(candidate):
            continue
        international = candidate.startswith(("+", "00"))
        grouped = bool(re.search(r"\d[ .\-/()]+\d", candidate))
        labelled = bool(_PHONE_WORDS.search(text[max(0, match.start() - 20):match.start()]))
        if international or labelled or (grouped and len(re.findall(r"\d+", candidate)) >= 3):
            if candidate not in found:
                found.append(candidate)
    return found


def check_amazon_reply(
    text: str, attachments: Sequence[tuple[str, str]], *, total_bytes: int | None = None
) -> list[str]:
    """Warnings, for the agent, about what Amazon's buyer-seller messaging guidelines forbid in
    this reply; [] when it is fine.

    `attachments` are (filename, content type) pairs; `total_bytes` their combined size when
    known. Flags links outside Amazon's own domains, email addresses, phone numbers, attachment
    types other than pdf/jpg/jpeg/png/gif/txt/doc/docx, and attachments over 10 MB in total.
    """
    warnings: list[str] = []
    text = text or ""
    links = _find_links(text)
    if links:
        warnings.append(
            _("Amazon does not allow links outside Amazon in messages to buyers: %(links)s")
            % {"links": ", ".join(links)}
        )
    emails = _find_emails(text)
    if emails:
        warnings.append(
            _("Amazon does not allow email addresses in messages to buyers: %(addresses)s")
            % {"addresses": ", ".join(emails)}
        )
    phones = _find_phones(text)
    if phones:
        warnings.append(
            _("Amazon does not allow phone numbers in messages to buyers: %(numbers)s")
            % {"numbers": ", ".join(phones)}
        )
    refused = []
    for filename, _content_type in attachments:
        name = (filename or "").strip()
        extension = name.rpartition(".")[2].lower() if "." in name else ""
        if extension not in ALLOWED_ATTACHMENT_EXTENSIONS:
            refused.append(name or _("(unnamed file)"))
    if refused:
        warnings.append(
            _("Amazon only accepts PDF, JPG, PNG, GIF, TXT, DOC and DOCX attachments; it will refuse: %(files)s")
            % {"files": ", ".join(refused)}
        )
    if total_bytes is not None and total_bytes > MAX_ATTACHMENTS_BYTES:
        warnings.append(
            _("Attachments to Amazon buyers may not exceed 10 MB in total; these are %(size).1f MB.")
            % {"size": total_bytes / (1024 * 1024)}
        )
    return warnings
