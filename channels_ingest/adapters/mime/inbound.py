"""What the inbound-email webhook adapters share (mime, mailgun, sendgrid, postmark).

They differ in how a delivery is authenticated and in how the email is packed into the request
(a raw RFC 5322 body, form fields, JSON). They agree on the rest, which lives here:

- the event id is the email's Message-ID, so a provider's retry and a replay are stored once
  (the SHA-256 of the body when the email has none);
- parsing runs in a worker from the stored bytes and the stored Content-Type only, so the provider's
  request is rebuilt from them (`rebuild_request`) for django-anymail's parsers;
- the email itself is handed to the shared parser, `channels_ingest.email.parse`, which knows
  nothing of the provider.

RFC 5322 (Internet Message Format): https://www.rfc-editor.org/rfc/rfc5322
RFC 7578 (multipart/form-data): https://www.rfc-editor.org/rfc/rfc7578
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from email.message import Message as MimeMessage
from email.parser import BytesHeaderParser, BytesParser, HeaderParser
from io import BytesIO
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from django.core.exceptions import SuspiciousOperation
from django.core.handlers.wsgi import WSGIRequest
from django.http.multipartparser import MultiPartParserError

from channels_ingest.base import NormalizedMessage, ParseError, SignatureInvalid
from channels_ingest.email.adapter_base import EmailAdapter
from channels_ingest.email.parse import parse_email, parse_email_message

if TYPE_CHECKING:
    from anymail.webhooks.base import AnymailCoreWebhookView
    from django.http import HttpRequest

    from channels_ingest.models import InboundEvent
    from tickets.models import ChannelAccount


@dataclass
class InboundEmail:
    """The email found in a delivery: its raw bytes when the provider sent them (preferred: nothing
    was re-encoded on the way), else a message built from the provider's parsed fields."""

    raw: bytes | None = None
    message: MimeMessage | None = None
    # Provider facts worth keeping on the message (envelope, spam score); never secrets.
    metadata: dict[str, Any] = field(default_factory=dict)


class InboundEmailWebhookAdapter(EmailAdapter):
    """Base of the inbound-email webhook adapters. Subclasses write `verify`, `message_id` and
    `read_email`; replies go out by SMTP from the mailbox (EmailAdapter)."""

    channel = "email"
    SUPPORTED_EVENTS = ("inbound",)
    # The Content-Type carries the multipart boundary: without it the stored body cannot be read.
    KEPT_HEADERS = ("content-type", "user-agent")

    def event_id(self, request: HttpRequest, account: ChannelAccount) -> str:
        return self.message_id(request) or super().event_id(request, account)

    def message_id(self, request: HttpRequest) -> str:
        """The email's Message-ID as the request carries it, or "" when it has none."""
        raise NotImplementedError

    def read_email(self, event: InboundEvent) -> InboundEmail:
        """Find the email in a stored delivery. Raise ParseError when there is none."""
        raise NotImplementedError

    def parse(self, event: InboundEvent) -> list[NormalizedMessage]:
        try:
            inbound = self.read_email(event)
        except (MultiPartParserError, SuspiciousOperation) as exc:
            # A stored form Django cannot read (a broken multipart, too many fields or files).
            raise ParseError(f"unreadable {self.slug} form: {type(exc).__name__}: {exc}") from None
        mailbox_address = event.account.settings.get("address", "")
        if inbound.message is not None:
            normalized = parse_email_message(
                inbound.message, raw=inbound.raw, mailbox_address=mailbox_address
            )
        elif inbound.raw:
            normalized = parse_email(inbound.raw, mailbox_address=mailbox_address)
        else:
            raise ParseError(f"the {self.slug} delivery carries no email")
        normalized.metadata.update({"inbound_via": self.slug, **inbound.metadata})
        return [normalized]


# --- Message-ID ------------------------------------------------------------------------------


def message_id_from_headers(headers: str | bytes) -> str:
    """The Message-ID of a raw header block (or of a whole raw email: the body is not read)."""
    if isinstance(headers, bytes):
        parsed = BytesHeaderParser().parsebytes(headers)
    else:
        parsed = HeaderParser().parsestr(headers)
    return clean_message_id(parsed.get("Message-ID"))


def clean_message_id(value: object) -> str:
    """A Message-ID written as the shared email parser writes a message's external id: without
    angle brackets or whitespace (folding and stray spaces would make the same id differ)."""
    if not value:
        return ""
    return "".join(str(value).split()).strip("<>")


# --- Rebuilding the provider's request from the stored bytes ---------------------------------


def lost_its_crlf(body: bytes, content_type: str) -> bool:
    """Multipart bodies use CRLF line ends (RFC 2046). One with none at all was saved through a
    text tool (the providers' published samples are), and Django would read it as an empty form."""
    return content_type.lower().lstrip().startswith("multipart/") and b"\n" in body and b"\r\n" not in body


def wire_body(body: bytes, content_type: str) -> bytes:
    """The body as it travels on the wire: one that lost its CRLFs is read as if it had kept them."""
    return body.replace(b"\n", b"\r\n") if lost_its_crlf(body, content_type) else body


def rebuild_request(body: bytes, content_type: str, *, meta: dict[str, str] | None = None) -> HttpRequest:
    """A Django request carrying `body`, as the provider posted it: django-anymail's parsers read
    request.POST, request.FILES and request.body, and the worker has only the stored bytes."""
    body = wire_body(body, content_type)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": BytesIO(body),
        "wsgi.url_scheme": "https",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "443",
        "PATH_INFO": "/",
        **(meta or {}),
    }
    request = WSGIRequest(environ)
    # Read the body now: anymail reads request.body after request.POST, which Django refuses
    # unless the body was read first.
    request.body  # noqa: B018
    return request


def readable_form(request: HttpRequest) -> HttpRequest:
    """The request itself, or a copy whose form Django can read (see `wire_body`)."""
    content_type = request.META.get("CONTENT_TYPE", "")
    if not lost_its_crlf(request.body, content_type):
        return request
    # Basic auth travels in a header, which the copy keeps for anymail's check.
    meta = {key: request.META[key] for key in ("HTTP_AUTHORIZATION",) if key in request.META}
    return rebuild_request(request.body, content_type, meta=meta)


def stored_content_type(event: InboundEvent) -> str:
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    return headers.get("content-type", "")


def form_field_bytes(body: bytes, content_type: str, name: str) -> bytes | None:
    """The exact bytes of one form field. Django decodes form fields as UTF-8 (replacing what is
    not), which would damage a raw email in another 8-bit charset; the email needs its bytes.
    The last value wins, as with Django's QueryDict."""
    body = wire_body(body, content_type)
    media_type = content_type.split(";", 1)[0].strip().lower()
    found: bytes | None = None
    if media_type == "application/x-www-form-urlencoded":
        # Latin-1 maps each byte to one character and back: percent-escapes decode to the exact
        # bytes that were sent, whatever their charset.
        for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1"):
            if key == name:
                found = value.encode("latin-1")
        return found
    if media_type != "multipart/form-data":
        return None
    # The email package reads multipart/form-data as any MIME multipart, keeping bytes as sent.
    form = BytesParser().parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not form.is_multipart():
        return None
    for part in form.get_payload():
        if part.get_param("name", header="content-disposition") == name:
            payload = part.get_payload(decode=True)
            # Providers send fields without a Content-Type, so the payload is the field's bytes;
            # a part declared message/* or multipart/* would have been parsed: keep it whole.
            found = payload if isinstance(payload, bytes) else part.as_bytes()
    return found


# --- django-anymail ----------------------------------------------------------------------------


def anymail_view(view_class: type[AnymailCoreWebhookView], **settings: Any) -> AnymailCoreWebhookView:
    """One of django-anymail's webhook views, configured with this account's credentials only.

    Every setting the view reads is passed explicitly, so nothing falls back to a global ANYMAIL
    setting: credentials are per account. Anymail warns when a view has no basic auth (we check
    credentials before we get here, or only parse) and that SendGrid support is community-kept;
    neither helps an operator, so they are silenced here. (catch_warnings is process-wide: at
    worst another thread's warning is hidden during this constructor call.)
    """
    from anymail.exceptions import AnymailInsecureWebhookWarning, AnymailNotSupportedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
        warnings.simplefilter("ignore", AnymailNotSupportedWarning)
        return view_class(**settings)


def basic_auth_credentials(account: ChannelAccount) -> list[str]:
    """The "user:password" pairs the account accepts (a list allows a rotation overlap)."""
    secret = account.get_secrets().get("webhook_secret")
    allowed = [secret] if isinstance(secret, str) else secret if isinstance(secret, list) else []
    allowed = [item for item in allowed if isinstance(item, str) and item]
    if not allowed:
        raise SignatureInvalid("the account has no webhook basic-auth credentials")
    return allowed


def run_anymail_validators(view: AnymailCoreWebhookView, request: HttpRequest) -> None:
    """Anymail's checks (basic auth, signature), as SignatureInvalid when they fail."""
    from anymail.exceptions import AnymailWebhookValidationFailure

    try:
        view.run_validators(request)
    except AnymailWebhookValidationFailure as exc:
        raise SignatureInvalid(str(exc)) from None
    except (UnicodeError, ValueError) as exc:
        # A signature field that is not ASCII, a form Django cannot read: nothing proves who sent it.
        raise SignatureInvalid(f"unreadable request: {exc}") from None


def anymail_email(view: AnymailCoreWebhookView, request: HttpRequest, *, slug: str) -> MimeMessage:
    """The message django-anymail builds from the provider's parsed fields."""
    from anymail.exceptions import AnymailError

    try:
        events = view.parse_events(request)
    except AnymailError as exc:
        # E.g. a tracking webhook pointed at the inbound URL: an operator has to fix the setup.
        raise ParseError(f"not an inbound {slug} email: {exc}") from None
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ParseError(f"unreadable {slug} inbound payload: {type(exc).__name__}: {exc}") from None
    if not events or events[0].message is None:
        raise ParseError(f"the {slug} delivery carries no email")
    return events[0].message


def spam_metadata(message: MimeMessage) -> dict[str, Any]:
    """What anymail learnt of the envelope and spam checks, for the message's details."""
    found: dict[str, Any] = {}
    for attribute in ("envelope_sender", "envelope_recipient", "spam_score"):
        value = getattr(message, attribute, None)
        if value not in (None, ""):
            found[attribute] = value
    return found

