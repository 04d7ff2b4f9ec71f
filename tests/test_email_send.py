"""Email replies go out by SMTP from the mailbox's own address, to a real SMTP server on loopback
(aiosmtpd): the headers a mail client threads on, both bodies, attachments, the Amazon relay,
header injection, and what the server's refusals mean."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from django.core.files.base import ContentFile

from channels_ingest.base import ChannelError
from channels_ingest.email import send
from channels_ingest.email.send import send_email_reply
from tests.factories import (
    ChannelAccountFactory,
    ChannelIdentityFactory,
    CustomerFactory,
    MessageFactory,
    StoreFactory,
    TicketFactory,
)
from tickets.models import Attachment, Channel, ChannelIdentity, Message

MAILBOX = "soporte@casalumbre.example"
CUSTOMER = "marta.gil@correo.example"
CUSTOMER_MESSAGE_ID = "CAF=2xq9+marta@mail.correo.example"
RELAY = "7x8d1kq2lfm4bn0@marketplace.amazon.es"


# --- A real SMTP server on loopback ------------------------------------------------------------


@dataclass
class RecordingHandler:
    """Accepts mail and keeps it; `refuse` answers chosen commands with chosen replies."""

    envelopes: list = field(default_factory=list)
    refuse_rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply
    refuse_mail: str = ""
    refuse_data: str = ""
    rcpt_attempts: int = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:
        if self.refuse_mail:
            return self.refuse_mail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        self.rcpt_attempts += 1
        reply = self.refuse_rcpt.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse_data:
            return self.refuse_data
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    handler: RecordingHandler
    logins: list[tuple[str, str]]

    @property
    def messages(self) -> list[EmailMessage]:
        # As a mail client reads them: with the wire's CRLF line ends turned into plain newlines.
        return [
            message_from_bytes(envelope.original_content.replace(b"\r\n", b"\n"), policy=policy.default)
            for envelope in self.handler.envelopes
        ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 that records what it is given. It offers AUTH PLAIN without TLS
    (a test-only setting) and takes the login smtp-user / right-password."""
    handler = RecordingHandler()
    logins: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            logins.append((login, password))
            return AuthResult(success=(login, password) == ("smtp-user", "right-password"), handled=False)
        return AuthResult(success=False, handled=False)

    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), server_hostname="mx.loopback.test",
        authenticator=authenticator, auth_require_tls=False, auth_exclude_mechanism=["LOGIN"],
    )
    controller.start()
    try:
        yield SmtpServer(port=controller.port, handler=handler, logins=logins)
    finally:
        controller.stop()


# --- The helpdesk side -------------------------------------------------------------------------


def mailbox_account(port: int, provider: str = "imap", channel: str = Channel.EMAIL, **settings):
    store = StoreFactory(name="Casa Lumbre", slug="casa-lumbre", default_language="es", country="ES")
    account = ChannelAccountFactory(
        store=store, channel=channel, provider=provider, display_name="Soporte Casa Lumbre",
        external_id=MAILBOX,
        settings={
            "address": MAILBOX,
            "from_name": "Casa Lumbre",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            **settings,
        },
    )
    return account


def customer_message_metadata(**changes) -> dict:
    """What `channels_ingest.email.parse` records of the customer's mail: it answers our earlier
    reply second.2, which answered their first mail first.1; In-Reply-To ids come first."""
    return {
        "message_id": CUSTOMER_MESSAGE_ID,
        "in_reply_to": ["second.2@casalumbre.example"],
        "references": ["second.2@casalumbre.example", "first.1@mail.correo.example"],
        "from": CUSTOMER,
        "to": [MAILBOX],
        "reply_to": [],
        **changes,
    }


def email_thread(account, *, subject: str = "¿Dónde está mi pedido?", channel: str = Channel.EMAIL,
                 parent_metadata: dict | None = None, parent_external_id: str = CUSTOMER_MESSAGE_ID):
    """A ticket with the customer's email and the agent's queued reply; returns the reply."""
    customer = CustomerFactory(name="Marta Gil", email=CUSTOMER)
    ChannelIdentityFactory(customer=customer, kind=ChannelIdentity.Kind.EMAIL, value=CUSTOMER)
    ticket = TicketFactory(store=account.store, channel=channel, channel_account=account, customer=customer,
                           subject=subject)
    MessageFactory(
        ticket=ticket, channel_account=account, external_id=parent_external_id, subject=subject,
        body_text="Hola, mi pedido no ha llegado.",
        metadata=customer_message_metadata() if parent_metadata is None else parent_metadata,
    )
    return MessageFactory(
        ticket=ticket, channel_account=account, direction=Message.Direction.OUTBOUND,
        author_type=Message.AuthorType.AGENT, author_customer=None, delivery_state=Message.DeliveryState.QUEUED,
        body_text="Hola Marta,\nlo enviamos ayer <hoy llega>.\nUn saludo",
    )


@pytest.fixture
def account(db, smtp_server):
    return mailbox_account(smtp_server.port)


# --- What is sent --------------------------------------------------------------------------------


def test_reply_carries_the_headers_the_customers_client_threads_on(account, smtp_server):
    reply = email_thread(account)

    result = send_email_reply(reply)

    assert len(smtp_server.messages) == 1
    envelope = smtp_server.handler.envelopes[0]
    assert envelope.mail_from == MAILBOX
    assert envelope.rcpt_tos == [CUSTOMER]
    mail = smtp_server.messages[0]
    assert mail["From"] == f"Casa Lumbre <{MAILBOX}>"
    assert mail["To"] == CUSTOMER
    assert mail["Subject"] == f"Re: ¿Dónde está mi pedido? [#{reply.ticket_id}]"
    assert "".join(mail["Message-ID"].split()) == f"<{result.external_id}>"  # may be folded
    assert result.external_id.endswith("@casalumbre.example")
    # The customer's client threads on In-Reply-To: it names their own message.
    assert mail["In-Reply-To"] == f"<{CUSTOMER_MESSAGE_ID}>"
    assert mail["References"] == (
        f"<first.1@mail.correo.example> <second.2@casalumbre.example> <{CUSTOMER_MESSAGE_ID}>"
    )
    assert mail["Date"]
    # A person's answer: nothing that makes it look automatic to the customer's mail system.
    assert mail["Auto-Submitted"] is None
    assert mail["Precedence"] is None
    assert result.metadata == {
        "to": CUSTOMER,
        "from": MAILBOX,
        "in_reply_to": CUSTOMER_MESSAGE_ID,
        "references": ["first.1@mail.correo.example", "second.2@casalumbre.example", CUSTOMER_MESSAGE_ID],
    }


def test_reply_has_a_text_part_and_an_escaped_html_alternative(account, smtp_server):
    reply = email_thread(account)

    send_email_reply(reply)

    mail = smtp_server.messages[0]
    assert mail.get_content_type() == "multipart/alternative"
    assert mail.get_body(("plain",)).get_content() == "Hola Marta,\nlo enviamos ayer <hoy llega>.\nUn saludo\n"
    html = mail.get_body(("html",)).get_content()
    assert "Hola Marta,<br>\nlo enviamos ayer &lt;hoy llega&gt;.<br>\nUn saludo" in html
    assert "<hoy llega>" not in html


def test_reply_written_in_html_is_sent_as_written(account, smtp_server):
    reply = email_thread(account)
    reply.body_html = "<p>Hola <strong>Marta</strong></p>"
    reply.save()

    send_email_reply(reply)

    html = smtp_server.messages[0].get_body(("html",)).get_content()
    assert "<p>Hola <strong>Marta</strong></p>" in html


def test_reply_carries_its_attachments(account, smtp_server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    reply = email_thread(account)
    pdf = b"%PDF-1.4 label for order 1042"
    Attachment.objects.create(
        message=reply, file=ContentFile(pdf, name="etiqueta.pdf"), filename="etiqueta-devolución.pdf",
        content_type="application/pdf", size=len(pdf),
    )

    send_email_reply(reply)

    mail = smtp_server.messages[0]
    assert mail.get_content_type() == "multipart/mixed"
    attachments = list(mail.iter_attachments())
    assert [(part.get_filename(), part.get_content_type(), part.get_content()) for part in attachments] == [
        ("etiqueta-devolución.pdf", "application/pdf", pdf)
    ]
    assert mail.get_body(("plain",)).get_content().startswith("Hola Marta,")


def test_attachment_with_a_strange_type_is_sent_as_bytes(account, smtp_server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    reply = email_thread(account)
    Attachment.objects.create(
        message=reply, file=ContentFile(b"data", name="x.bin"), filename="x.bin",
        content_type="text/plain\r\nBcc: victim@example.com", size=4,
    )

    send_email_reply(reply)

    envelope = smtp_server.handler.envelopes[0]
    assert b"\nBcc:" not in envelope.original_content
    [part] = smtp_server.messages[0].iter_attachments()
    assert (part.get_content_type(), part.get_content()) == ("application/octet-stream", b"data")


@pytest.mark.parametrize("subject", ["RE: ¿Dónde está mi pedido?", "Aw: Lieferung", "Sv: Leverans", "re:x"])
def test_subject_already_marked_as_a_reply_is_not_prefixed_again(account, smtp_server, subject):
    reply = email_thread(account, subject=subject)

    send_email_reply(reply)

    assert smtp_server.messages[0]["Subject"] == f"{subject} [#{reply.ticket_id}]"


def test_ticket_reference_is_not_repeated(account, smtp_server):
    reply = email_thread(account, subject="Re: Pedido 1042")
    reply.ticket.subject = f"Re: Pedido 1042 [#{reply.ticket_id}]"
    reply.ticket.save()

    send_email_reply(reply)

    assert smtp_server.messages[0]["Subject"] == f"Re: Pedido 1042 [#{reply.ticket_id}]"


def test_sending_the_same_message_again_keeps_its_message_id(account, smtp_server):
    """A retry after a crash must be recognisable as the same mail by the receiving side."""
    reply = email_thread(account)

    first = send_email_reply(reply)
    second = send_email_reply(reply)

    assert first.external_id == second.external_id
    assert [mail["Message-ID"] for mail in smtp_server.messages] == [f"<{first.external_id}>"] * 2


@pytest.mark.parametrize("reply_to", [["pedidos.marta@otro.example"], "Marta Gil <pedidos.marta@otro.example>"])
def test_reply_to_address_given_by_the_customer_wins(account, smtp_server, reply_to):
    reply = email_thread(account, parent_metadata=customer_message_metadata(reply_to=reply_to))

    send_email_reply(reply)

    assert smtp_server.handler.envelopes[0].rcpt_tos == ["pedidos.marta@otro.example"]
    assert smtp_server.messages[0]["To"] == "pedidos.marta@otro.example"


def test_reply_goes_to_the_address_the_customer_wrote_from(account, smtp_server):
    """Not to the address on their profile: they wrote from their work address this time."""
    reply = email_thread(account, parent_metadata=customer_message_metadata(**{"from": "marta@trabajo.example"}))

    send_email_reply(reply)

    assert smtp_server.handler.envelopes[0].rcpt_tos == ["marta@trabajo.example"]


def test_reply_is_never_sent_to_the_mailbox_itself(account, smtp_server):
    reply = email_thread(account, parent_metadata=customer_message_metadata(**{"from": MAILBOX}, reply_to=[MAILBOX]))

    send_email_reply(reply)

    assert smtp_server.handler.envelopes[0].rcpt_tos == [CUSTOMER]


def test_auto_replies_are_not_what_the_reply_answers(account, smtp_server):
    reply = email_thread(account)
    MessageFactory(
        ticket=reply.ticket, channel_account=account, external_id="bounce.9@mx.correo.example", is_auto_reply=True,
        metadata={"message_id": "bounce.9@mx.correo.example", "from": "mailer-daemon@mx.correo.example"},
    )

    send_email_reply(reply)

    assert smtp_server.handler.envelopes[0].rcpt_tos == [CUSTOMER]
    assert smtp_server.messages[0]["In-Reply-To"] == f"<{CUSTOMER_MESSAGE_ID}>"


def test_reply_answers_the_customers_own_id_when_the_stored_one_is_a_digest(account, smtp_server):
    long_id = "x" * 300 + "@mail.correo.example"
    reply = email_thread(
        account, parent_external_id="sha256:" + "ab" * 32, parent_metadata=customer_message_metadata(message_id=long_id)
    )

    send_email_reply(reply)

    assert smtp_server.messages[0]["In-Reply-To"] == f"<{long_id}>"


def test_customer_mail_without_a_message_id_is_not_answered_by_id(account, smtp_server):
    reply = email_thread(
        account, parent_external_id="sha256:" + "ab" * 32,
        parent_metadata=customer_message_metadata(message_id="", in_reply_to=[], references=[]),
    )

    result = send_email_reply(reply)

    mail = smtp_server.messages[0]
    assert mail["In-Reply-To"] is None and mail["References"] is None
    assert result.metadata["references"] == []


def test_long_reference_chain_keeps_the_first_and_the_latest_ids(account, smtp_server):
    earlier = [f"m{n}@mail.correo.example" for n in range(30)]
    reply = email_thread(account, parent_metadata=customer_message_metadata(in_reply_to=[], references=earlier))

    result = send_email_reply(reply)

    assert result.metadata["references"] == [earlier[0], *earlier[-18:], CUSTOMER_MESSAGE_ID]
    assert smtp_server.messages[0]["References"].split() == [f"<{ref}>" for ref in result.metadata["references"]]


def test_reply_without_a_customer_message_starts_a_thread(account, smtp_server):
    reply = email_thread(account)
    reply.ticket.messages.filter(direction=Message.Direction.INBOUND).delete()

    result = send_email_reply(reply)

    mail = smtp_server.messages[0]
    assert mail["In-Reply-To"] is None and mail["References"] is None
    assert mail["To"] == CUSTOMER
    assert result.metadata["references"] == []


def test_login_uses_the_mailbox_credentials(db, smtp_server):
    account = mailbox_account(smtp_server.port)
    account.set_secrets({"smtp_username": "smtp-user", "smtp_password": "right-password"})
    account.save()
    reply = email_thread(account)

    send_email_reply(reply)

    assert smtp_server.logins == [("smtp-user", "right-password")]
    assert len(smtp_server.messages) == 1


def test_no_login_without_a_user_name(account, smtp_server):
    send_email_reply(email_thread(account))

    assert smtp_server.logins == []


def test_wrong_password_is_permanent(db, smtp_server):
    account = mailbox_account(smtp_server.port)
    account.set_secrets({"smtp_username": "smtp-user", "smtp_password": "wrong"})
    account.save()

    with pytest.raises(ChannelError) as caught:
        send_email_reply(email_thread(account))

    assert caught.value.permanent is True
    assert "535" in str(caught.value)
    assert smtp_server.messages == []


# --- Amazon buyers are answered through the relay -----------------------------------------------


def test_amazon_reply_goes_to_the_buyers_relay_address(db, smtp_server):
    account = mailbox_account(smtp_server.port, channel=Channel.AMAZON)
    reply = email_thread(
        account, channel=Channel.AMAZON, subject="Consulta del cliente: pedido 171-0000000-0000000",
        parent_metadata=customer_message_metadata(**{"from": ""}),
    )
    # The buyer's own address is known too (from a shop order), and must not be used.
    ChannelIdentityFactory(customer=reply.ticket.customer, kind=ChannelIdentity.Kind.AMAZON_RELAY, value=RELAY)

    result = send_email_reply(reply)

    assert smtp_server.handler.envelopes[0].rcpt_tos == [RELAY]
    assert smtp_server.messages[0]["To"] == RELAY
    assert result.metadata["to"] == RELAY


def test_amazon_reply_goes_to_the_relay_address_the_buyer_wrote_from(db, smtp_server):
    account = mailbox_account(smtp_server.port, channel=Channel.AMAZON)
    other_relay = "0aa1bb2cc3dd4ee@marketplace.amazon.es"
    reply = email_thread(
        account, channel=Channel.AMAZON,
        # A Reply-To outside the relay is not followed: Amazon buyers are answered through it only.
        parent_metadata=customer_message_metadata(**{"from": other_relay}, reply_to=["buyer@gmail.example"]),
    )
    ChannelIdentityFactory(customer=reply.ticket.customer, kind=ChannelIdentity.Kind.AMAZON_RELAY, value=RELAY)

    send_email_reply(reply)

    assert smtp_server.handler.envelopes[0].rcpt_tos == [other_relay]


def test_amazon_reply_without_a_relay_address_is_not_sent_to_the_buyers_own_address(db, smtp_server):
    account = mailbox_account(smtp_server.port, channel=Channel.AMAZON)
    reply = email_thread(account, channel=Channel.AMAZON, parent_metadata=customer_message_metadata(**{"from": ""}))

    with pytest.raises(ChannelError) as caught:
        send_email_reply(reply)

    assert caught.value.permanent is True
    assert "relay" in str(caught.value)
    assert smtp_server.handler.envelopes == []


# --- Header injection ------------------------------------------------------------------------------


def test_line_breaks_in_the_subject_cannot_add_headers(account, smtp_server):
    reply = email_thread(account, subject="Refund\r\nBcc: victim@example.com")

    send_email_reply(reply)

    envelope = smtp_server.handler.envelopes[0]
    assert envelope.rcpt_tos == [CUSTOMER]
    assert b"\nBcc:" not in envelope.original_content
    mail = smtp_server.messages[0]
    assert mail["Bcc"] is None
    assert mail["Subject"] == f"Re: Refund Bcc: victim@example.com [#{reply.ticket_id}]"


def test_line_breaks_in_names_addresses_and_ids_cannot_add_headers(db, smtp_server):
    account = mailbox_account(smtp_server.port, from_name="Casa Lumbre\nBcc: victim@example.com")
    reply = email_thread(
        account,
        parent_external_id="abc@mail.example\r\nBcc: victim@example.com",
        parent_metadata=customer_message_metadata(
            message_id="",
            reply_to=["attacker@example.com\r\nBcc: victim@example.com"],
            in_reply_to=[],
            references=["ok.1@mail.example", "x@y\r\nBcc: victim@example.com"],
        ),
    )

    send_email_reply(reply)

    envelope = smtp_server.handler.envelopes[0]
    assert envelope.rcpt_tos == [CUSTOMER]  # the poisoned Reply-To was not an address at all
    assert b"\nBcc:" not in envelope.original_content
    mail = smtp_server.messages[0]
    assert mail["Bcc"] is None
    assert mail["From"] == f'"Casa Lumbre Bcc: victim@example.com" <{MAILBOX}>'
    assert mail["In-Reply-To"] is None  # the poisoned id is not an id
    assert mail["References"] == "<ok.1@mail.example>"


def test_clean_header_value_removes_every_line_break():
    assert send.clean_header_value("a\r\nb\nc\rd\x0be\u2028f\x85g\x00h") == "a b c d e f g h"


# --- What the server's refusals mean ------------------------------------------------------------


def test_recipient_refused_for_good_is_permanent_with_the_servers_words(account, smtp_server):
    smtp_server.handler.refuse_rcpt[CUSTOMER] = "550 5.1.1 <marta.gil@correo.example>: Recipient address rejected"

    with pytest.raises(ChannelError) as caught:
        send_email_reply(email_thread(account))

    assert caught.value.permanent is True
    assert "550" in str(caught.value)
    assert "Recipient address rejected" in str(caught.value)
    assert CUSTOMER in str(caught.value)
    assert smtp_server.handler.envelopes == []


def test_recipient_refused_for_now_is_transient(account, smtp_server):
    smtp_server.handler.refuse_rcpt[CUSTOMER] = "451 4.7.1 Greylisted, please try again later"

    with pytest.raises(ChannelError) as caught:
        send_email_reply(email_thread(account))

    assert caught.value.permanent is False
    assert "451" in str(caught.value)


@pytest.mark.parametrize(
    ("stage", "reply", "permanent"),
    [
        ("mail", "553 5.7.1 Sender address rejected: not owned by user", True),
        ("mail", "421 4.3.2 Service shutting down", False),
        ("data", "554 5.6.0 Message content rejected", True),
        ("data", "452 4.3.1 Insufficient system storage", False),
    ],
)
def test_sender_and_content_refusals_follow_the_reply_code(account, smtp_server, stage, reply, permanent):
    setattr(smtp_server.handler, f"refuse_{stage}", reply)

    with pytest.raises(ChannelError) as caught:
        send_email_reply(email_thread(account))

    assert caught.value.permanent is permanent
    assert reply.split()[0] in str(caught.value)
    assert smtp_server.handler.envelopes == []


def test_server_that_refuses_connections_is_transient(db):
    account = mailbox_account(free_port())  # nobody listens there

    with pytest.raises(ChannelError) as caught:
        send_email_reply(email_thread(account))

    assert caught.value.permanent is False
    assert "refused the connection" in str(caught.value)


def test_server_that_never_answers_times_out_as_transient(db, monkeypatch):
    monkeypatch.setattr(send, "SMTP_TIMEOUT_SECONDS", 0.5)
    with socket.socket() as silent:
        # Listening but never greeting: the kernel completes the handshake, nobody speaks.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        account = mailbox_account(silent.getsockname()[1])

        with pytest.raises(ChannelError) as caught:
            send_email_reply(email_thread(account))

    assert caught.value.permanent is False
    assert "did not answer within 0.5 seconds" in str(caught.value)


def test_starttls_required_but_not_offered_is_permanent(db, smtp_server):
    account = mailbox_account(smtp_server.port, smtp_security="starttls")

    with pytest.raises(ChannelError) as caught:
        send_email_reply(email_thread(account))

    assert caught.value.permanent is True
    assert isinstance(caught.value.__cause__, smtplib.SMTPNotSupportedError)
    assert smtp_server.handler.envelopes == []


@pytest.mark.parametrize(
    ("mailbox_settings", "expected"),
    [
        ({"smtp_host": ""}, "has no SMTP server set"),
        ({"smtp_security": "carrier-pigeon"}, "unknown SMTP security setting"),
        ({"address": "not an address"}, "no valid sending address"),
    ],
)
def test_mailbox_without_usable_settings_is_permanent(db, smtp_server, mailbox_settings, expected):
    account = mailbox_account(smtp_server.port, **mailbox_settings)

    with pytest.raises(ChannelError) as caught:
        send_email_reply(email_thread(account))

    assert caught.value.permanent is True
    assert expected in str(caught.value)
    assert smtp_server.handler.envelopes == []
