"""Email replies, sent by SMTP from the mailbox's own address.

Whichever service brings a mailbox's mail in (IMAP polling, Mailgun, SendGrid, Postmark, raw MIME),
the reply leaves through the SMTP server configured on the mailbox, so that it comes from the
address the customer wrote to and lands in the mailbox's own "Sent" trail at the provider.

References:
- RFC 5322 §3.6.4 (Message-ID, In-Reply-To, References): https://www.rfc-editor.org/rfc/rfc5322#section-3.6.4
- RFC 3834 (Auto-Submitted, which a human reply must not carry): https://www.rfc-editor.org/rfc/rfc3834
- smtplib: https://docs.python.org/3/library/smtplib.html

A mailbox's ChannelAccount carries
    settings: {"address", "from_name", "smtp_host", "smtp_port", "smtp_security": starttls|ssl|none}
    secrets:  {"smtp_username", "smtp_password"} (login only when a user name is given)
"""

from __future__ import annotations

import re
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.html import escape, strip_tags
from django.utils.translation import gettext as _

from channels_ingest.base import ChannelError, SendResult

if TYPE_CHECKING:
    from tickets.models import ChannelAccount, Message, Ticket

# A slow server must not hold a worker (and the message's row lock) for long; the task retries.
SMTP_TIMEOUT_SECONDS = 30
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
# The chain is trimmed to the first message and the latest ones: some servers refuse very long
# headers, and clients thread on the first and last ids anyway (RFC 5322 §3.6.4 allows trimming).
MAX_REFERENCES = 20
# Reply prefixes of common mail clients (English, German, Scandinavian, Dutch, Italian, Polish,
# Portuguese); a subject that already has one is not prefixed again.
REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw|rif|odp|res)\s*(\[\d+\])?\s*:", re.IGNORECASE)
# Every control character, and the Unicode line and paragraph separators that str.splitlines()
# also breaks on: none of them belongs in a header value, and CR or LF would start a new header.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
# Deliberately strict: an address we send to must be one plain addr-spec, never a list.
_ADDRESS = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+\.[^@\s<>,;:\"()\[\]\\]+$")
_MESSAGE_ID = re.compile(r"^[^<>\s]+$")
_MIME_TOKEN = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*$")


@dataclass
class SmtpSettings:
    host: str
    port: int
    security: str
    username: str
    password: str


# --- Header hygiene --------------------------------------------------------------------------


def clean_header_value(value: object) -> str:
    """A header value with every line break and control character turned into one space.

    Subjects, names and ids come partly from customers and agents: a "\\r\\nBcc: ..." in them must
    stay text on the same line, never become a header of its own.
    """
    return _CONTROL_CHARACTERS.sub(" ", str(value or "")).strip()


def clean_address(value: object) -> str:
    """The plain address (local@domain) in a value such as "Name <local@domain>", or "" when the
    value is not exactly one address. A value with a line break is refused whole: it is an
    injection attempt, not an address."""
    raw = str(value or "").strip()
    if not raw or _CONTROL_CHARACTERS.search(raw):
        return ""
    _name, address = parseaddr(raw)
    return address if _ADDRESS.match(address) else ""


def bare_message_id(value: object) -> str:
    """A Message-ID without its angle brackets, or "" when it is not a usable id (the parser's
    "sha256:<hex>" stand-ins for missing or overlong ids are not ids to send)."""
    candidate = clean_header_value(value).strip().strip("<>").strip()
    if not candidate or not _MESSAGE_ID.match(candidate):
        return ""
    if candidate.startswith("sha256:") and "@" not in candidate:
        return ""
    return candidate


def message_id_list(value: Any) -> list[str]:
    """Message ids from a References value: a list of ids, or a header string of <id> tokens."""
    if not value:
        return []
    if isinstance(value, str):
        tokens = re.findall(r"<([^<>]*)>", value) if "<" in value else value.split()
    elif isinstance(value, list | tuple):
        tokens = [str(item) for item in value]
    else:
        return []
    ids: list[str] = []
    for token in tokens:
        bare = bare_message_id(token)
        if bare and bare not in ids:
            ids.append(bare)
    return ids


def reply_subject(ticket: Ticket, subject: str = "") -> str:
    """The reply's subject, "Re: <subject> [#<ticket>]": the ticket reference keeps a reply whose
    threading headers a mail client dropped on its ticket."""
    base = clean_header_value(subject or ticket.subject)
    if base and not REPLY_PREFIX.match(base):
        base = f"Re: {base}"
    reference = f"[#{ticket.pk}]"
    if reference not in base:
        base = f"{base} {reference}".strip()
    return base


# --- Who the reply goes to, and what it answers ----------------------------------------------


def latest_inbound_message(ticket: Ticket) -> Message | None:
    """The customer's latest message: the one the reply answers. Auto-replies and bounces are
    passed over, or an agent's answer would go to MAILER-DAEMON or thread under an out-of-office."""
    from tickets.models import Message

    return (
        ticket.messages.filter(direction=Message.Direction.INBOUND, is_auto_reply=False)
        .order_by("-created_at", "-pk")
        .first()
    )


def _addresses(value: Any) -> list[str]:
    """The usable addresses in a metadata value: one address, or a list of them (the parser keeps
    Reply-To as a list)."""
    values = value if isinstance(value, list | tuple) else [value]
    return [address for address in (clean_address(item) for item in values) if address]


def resolve_recipient(message: Message, parent: Message | None) -> str:
    """The customer's address on this channel: the Reply-To or From of their latest message, else
    their address known for this mailbox, else their global one.

    Amazon buyers are only ever written to at a relay address (Amazon hides their own, and writing
    to it outside the relay breaks the marketplace's rules), so an Amazon ticket never falls back
    to the customer's own email address. No reply ever goes to the mailbox itself.
    """
    from channels_ingest.email.amazon import marketplace_for_address
    from tickets.models import Channel, ChannelIdentity

    ticket = message.ticket
    amazon = ticket.channel == Channel.AMAZON
    own = {mailbox_address(message.channel_account).lower()} if message.channel_account else set()

    def usable(address: str) -> bool:
        return bool(address) and address.lower() not in own and (not amazon or bool(marketplace_for_address(address)))

    metadata = parent.metadata if parent is not None and isinstance(parent.metadata, dict) else {}
    for address in [*_addresses(metadata.get("reply_to")), *_addresses(metadata.get("from"))]:
        if usable(address):
            return address
    kind = ChannelIdentity.Kind.AMAZON_RELAY if amazon else ChannelIdentity.Kind.EMAIL
    identities = ChannelIdentity.objects.filter(customer_id=ticket.customer_id, kind=kind).order_by(
        "-created_at", "-pk"
    )
    # An identity of this very mailbox first, then the customer's global ones, newest first.
    scoped = identities.filter(account_id=ticket.channel_account_id) if ticket.channel_account_id else identities.none()
    for identity in [*scoped, *identities.filter(account__isnull=True)]:
        address = clean_address(identity.value)
        if usable(address):
            return address
    if amazon:
        raise ChannelError(_("The buyer's Amazon relay address is not known, so the reply cannot be sent."), permanent=True)
    address = clean_address(ticket.customer.email)
    if usable(address):
        return address
    raise ChannelError(_("The customer's email address is not known, so the reply cannot be sent."), permanent=True)


def thread_ids(parent: Message | None) -> tuple[str, list[str]]:
    """(the Message-ID the reply answers, the reply's References chain), oldest first.

    The parser stores the customer's own id in metadata "message_id" (external_id may be a
    digest: "sha256:..."), and lists their In-Reply-To ids before their References; in a chain the
    message answered comes last, so those move to the end.
    """
    if parent is None:
        return "", []
    metadata = parent.metadata if isinstance(parent.metadata, dict) else {}
    parent_id = bare_message_id(metadata.get("message_id")) or bare_message_id(parent.external_id)
    answered = message_id_list(metadata.get("in_reply_to"))
    earlier = [ref for ref in message_id_list(metadata.get("references")) if ref not in answered]
    chain = [ref for ref in [*earlier, *answered] if ref != parent_id]
    if parent_id:
        chain.append(parent_id)
    if len(chain) > MAX_REFERENCES:
        chain = chain[:1] + chain[-(MAX_REFERENCES - 1) :]
    return parent_id, chain


# --- The message -----------------------------------------------------------------------------


def mailbox_address(account: ChannelAccount) -> str:
    settings = account.settings if isinstance(account.settings, dict) else {}
    address = clean_address(settings.get("address") or account.external_id)
    if not address:
        raise ChannelError(
            _("The mailbox %(mailbox)s has no valid sending address.") % {"mailbox": account.display_name},
            permanent=True,
        )
    return address


def reply_message_id(message: Message, domain: str) -> str:
    """The reply's Message-ID (with brackets), the same at every attempt for one message.

    If a worker dies after the server took the mail but before the database recorded it, the
    retry sends the same Message-ID, which receiving servers and clients recognise as a repeat.
    The account's random public id makes it unique beyond this installation.
    """
    token = uuid.uuid5(message.channel_account.public_id, f"message:{message.pk}").hex
    return f"<helpdesk.{message.pk}.{token}@{domain}>"


def html_body(message: Message) -> str:
    if message.body_html:
        inner = message.body_html  # sanitised when it was stored (Message.save)
    else:
        inner = escape(message.body_text).replace("\r\n", "\n").replace("\n", "<br>\n")
    return f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n{inner}\n</body></html>\n'


def text_body(message: Message) -> str:
    if message.body_text:
        return message.body_text
    return strip_tags(message.body_html).strip()


def build_reply(message: Message, recipient: str, parent: Message | None) -> tuple[EmailMessage, list[str], str]:
    """The reply as a MIME message; returns it with its References chain and bare Message-ID."""
    account = message.channel_account
    sender = mailbox_address(account)
    settings = account.settings if isinstance(account.settings, dict) else {}
    from_name = clean_header_value(settings.get("from_name") or account.store.name)
    domain = sender.rpartition("@")[2]

    mime = EmailMessage()
    mime["From"] = Address(display_name=from_name, addr_spec=sender) if from_name else sender
    mime["To"] = recipient
    mime["Subject"] = reply_subject(message.ticket, message.subject)
    mime["Date"] = format_datetime(timezone.now())
    message_id = reply_message_id(message, domain)
    mime["Message-ID"] = message_id

    parent_id, references = thread_ids(parent)
    if parent_id:
        mime["In-Reply-To"] = f"<{parent_id}>"
    if references:
        mime["References"] = " ".join(f"<{ref}>" for ref in references)
    if message.is_auto_reply:
        # Our own automatic message (an acknowledgement): marked so (RFC 3834), so the customer's
        # autoresponder does not answer it.
        mime["Auto-Submitted"] = "auto-replied"
    # Otherwise deliberately no Auto-Submitted and no Precedence: a person's answer, and those
    # headers would make the customer's mail system treat it as a robot's.

    mime.set_content(text_body(message))
    mime.add_alternative(html_body(message), subtype="html")
    for attachment in message.attachments.all():
        try:
            with attachment.file.open("rb") as handle:
                data = handle.read()
        except (OSError, ValueError) as exc:
            raise ChannelError(
                _("The attachment %(name)s could not be read: %(error)s") % {"name": attachment.filename, "error": exc},
                permanent=True,
            ) from exc
        maintype, _slash, subtype = (attachment.content_type or "").strip().lower().partition("/")
        # Stored types come from outside (a customer's upload): anything but a plain type/subtype
        # token pair is sent as opaque bytes.
        if not (_MIME_TOKEN.match(maintype) and _MIME_TOKEN.match(subtype)) or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        filename = clean_header_value(attachment.filename) or "attachment"
        headers = [f"Content-ID: <{bare_message_id(attachment.content_id)}>"] if bare_message_id(attachment.content_id) else None
        mime.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename, headers=headers)
    return mime, references, message_id.strip("<>")


# --- SMTP ------------------------------------------------------------------------------------


def smtp_settings(account: ChannelAccount) -> SmtpSettings:
    settings = account.settings if isinstance(account.settings, dict) else {}
    host = clean_header_value(settings.get("smtp_host"))
    if not host:
        raise ChannelError(
            _("The mailbox %(mailbox)s has no SMTP server set.") % {"mailbox": account.display_name}, permanent=True
        )
    security = str(settings.get("smtp_security") or "starttls").lower()
    if security not in DEFAULT_PORTS:
        raise ChannelError(
            _("The mailbox %(mailbox)s has an unknown SMTP security setting %(security)s.")
            % {"mailbox": account.display_name, "security": security},
            permanent=True,
        )
    try:
        port = int(settings.get("smtp_port") or DEFAULT_PORTS[security])
    except (TypeError, ValueError):
        raise ChannelError(
            _("The mailbox %(mailbox)s has an invalid SMTP port.") % {"mailbox": account.display_name}, permanent=True
        ) from None
    secrets = account.get_secrets()
    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        username=str(secrets.get("smtp_username") or ""),
        password=str(secrets.get("smtp_password") or ""),
    )


def _server_text(response: bytes | str) -> str:
    text = response.decode("utf-8", "replace") if isinstance(response, bytes) else str(response)
    return clean_header_value(text)


def _by_code(code: int, reason: str) -> ChannelError:
    # 5xx is the server's final word (RFC 5321 §4.2.1); 4xx and odd codes may pass.
    return ChannelError(reason, permanent=500 <= code < 600)


def smtp_channel_error(exc: Exception, smtp: SmtpSettings) -> ChannelError:
    """Turn what smtplib raised into a ChannelError that says whether trying again can help."""
    where = {"host": smtp.host, "port": smtp.port}
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        address, (code, response) = next(iter(exc.recipients.items()))
        return _by_code(code, _("The mail server refused the recipient %(address)s: %(code)s %(text)s")
                        % {"address": address, "code": code, "text": _server_text(response)})
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _by_code(exc.smtp_code, _("The mail server refused the sender %(address)s: %(code)s %(text)s")
                        % {"address": exc.sender, "code": exc.smtp_code, "text": _server_text(exc.smtp_error)})
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _by_code(exc.smtp_code, _("The mail server did not accept the mailbox's login: %(code)s %(text)s")
                        % {"code": exc.smtp_code, "text": _server_text(exc.smtp_error)})
    if isinstance(exc, smtplib.SMTPDataError):
        return _by_code(exc.smtp_code, _("The mail server refused the message: %(code)s %(text)s")
                        % {"code": exc.smtp_code, "text": _server_text(exc.smtp_error)})
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, _("The mail server answered %(code)s %(text)s")
                        % {"code": exc.smtp_code, "text": _server_text(exc.smtp_error)})
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        # E.g. STARTTLS asked for but not offered: a setting to fix, not a passing fault.
        return ChannelError(_("The mail server %(host)s does not support what the mailbox asks: %(error)s")
                            % {**where, "error": exc}, permanent=True)
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError):
        exc = exc.__context__  # smtplib reports a read that timed out as a lost connection
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return ChannelError(_("The mail server %(host)s closed the connection: %(error)s")
                            % {**where, "error": str(exc) or _("no reason given")}, permanent=False)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ChannelError(_("The TLS certificate of the mail server %(host)s could not be verified: %(error)s")
                            % {**where, "error": exc.verify_message or exc}, permanent=True)
    if isinstance(exc, TimeoutError):
        return ChannelError(_("The mail server %(host)s:%(port)s did not answer within %(seconds)s seconds.")
                            % {**where, "seconds": SMTP_TIMEOUT_SECONDS}, permanent=False)
    if isinstance(exc, ConnectionRefusedError):
        return ChannelError(_("The mail server %(host)s:%(port)s refused the connection.") % where, permanent=False)
    return ChannelError(_("Could not talk to the mail server %(host)s:%(port)s: %(error)s")
                        % {**where, "error": exc}, permanent=False)


def deliver(mime: EmailMessage, *, sender: str, recipient: str, smtp: SmtpSettings, helo: str) -> None:
    """Hand the message to the mailbox's SMTP server; raise ChannelError if it is not taken."""
    try:
        client: smtplib.SMTP
        # local_hostname given: smtplib would otherwise look up our FQDN, a DNS call that can hang.
        if smtp.security == "ssl":
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.port, local_hostname=helo, timeout=SMTP_TIMEOUT_SECONDS,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, local_hostname=helo, timeout=SMTP_TIMEOUT_SECONDS)
        with client:
            client.ehlo()
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if smtp.username:
                client.login(smtp.username, smtp.password)
            # The envelope is given explicitly: the recipient is exactly the customer, whatever
            # the headers say.
            client.send_message(mime, from_addr=sender, to_addrs=[recipient])
    except (smtplib.SMTPException, OSError) as exc:  # SMTPException is an OSError; both listed for the reader
        raise smtp_channel_error(exc, smtp) from exc


def send_email_reply(message: Message) -> SendResult:
    """Send an outbound Message by SMTP from its mailbox. Raises ChannelError(permanent=...)."""
    account = message.channel_account
    if account is None:
        raise ChannelError(_("This reply has no mailbox to be sent from."), permanent=True)
    smtp = smtp_settings(account)
    parent = latest_inbound_message(message.ticket)
    recipient = resolve_recipient(message, parent)
    mime, references, message_id = build_reply(message, recipient, parent)
    sender = mailbox_address(account)
    deliver(mime, sender=sender, recipient=recipient, smtp=smtp, helo=sender.rpartition("@")[2])
    return SendResult(
        external_id=message_id,
        metadata={
            "to": recipient,
            "from": sender,
            "in_reply_to": mime.get("In-Reply-To", "").strip("<>"),
            "references": references,
        },
    )
