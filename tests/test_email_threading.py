"""Email threading end to end: the customer's answer to our reply joins the ticket by its
headers, by the ticket reference in the subject when the headers are broken, and a new mail
about another order opens another ticket. Amazon relay mail is threaded to its order."""

from __future__ import annotations

import pytest

from channels_ingest.actions import process_event
from channels_ingest.adapters.generic.adapter import sign
from channels_ingest.outbound import send_message
from tests.factories import OrderFactory
from tests.test_email_send import mailbox_account, smtp_server  # noqa: F401  (fixture)
from tests.webhook_helpers import post_webhook
from tickets import actions
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db

SECRET = "threading-secret"
MAILBOX = "soporte@casalumbre.example"


@pytest.fixture
def mailbox(smtp_server):  # noqa: F811
    account = mailbox_account(smtp_server.port, provider="mime")
    account.set_secrets({"signing_secret": SECRET})
    account.save()
    return account


def mail(*, message_id: str, subject: str, body: str, sender: str = "Lucía Gómez <lucia@example.es>",
         in_reply_to: str = "", references: str = "") -> bytes:
    headers = [
        f"From: {sender}", f"To: Casa Lumbre <{MAILBOX}>", f"Subject: {subject}",
        f"Message-ID: <{message_id}>", "Date: Sun, 22 Nov 2026 09:00:00 +0100",
        "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit",
    ]
    if in_reply_to:
        headers.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        headers.append(f"References: {references}")
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


def deliver(client, mailbox, raw: bytes) -> Message:
    response = post_webhook(client, "mime", mailbox, raw, "message/rfc822", {"X-Helpdesk-Signature": sign(SECRET, raw)})
    assert response.status_code == 200
    assert process_event(response.json()["event"]) == "processed"
    return Message.objects.get(inbound_event_id=response.json()["event"])


def agent_reply(ticket: Ticket, agent, smtp_server) -> Message:  # noqa: F811
    reply = actions.add_message(ticket=ticket, direction="outbound", body_text="Ya está en camino.", author_user=agent)
    send_message(reply.pk)
    reply.refresh_from_db()
    assert reply.delivery_state == "sent"
    assert len(smtp_server.handler.envelopes) >= 1
    return reply


def test_the_customers_answer_to_our_reply_joins_the_ticket_by_its_headers(client, mailbox, smtp_server, alice):  # noqa: F811
    first = deliver(client, mailbox, mail(message_id="m1@example.es", subject="¿Dónde está mi pedido?", body="Hola"))
    ticket = first.ticket
    reply = agent_reply(ticket, alice, smtp_server)

    answer = deliver(client, mailbox, mail(
        message_id="m2@example.es", subject="Re: ¿Dónde está mi pedido?", body="¡Gracias!",
        in_reply_to=reply.external_id, references=f"<m1@example.es> <{reply.external_id}>",
    ))
    assert answer.ticket_id == ticket.pk
    assert Ticket.objects.count() == 1


def test_broken_headers_still_join_by_the_ticket_reference_in_the_subject(client, mailbox, smtp_server, alice):  # noqa: F811
    first = deliver(client, mailbox, mail(message_id="m1@example.es", subject="Factura", body="Necesito la factura"))
    ticket = first.ticket
    agent_reply(ticket, alice, smtp_server)
    sent_subject = smtp_server.handler.envelopes[-1].content.decode()
    assert f"[#{ticket.pk}]" in sent_subject

    # The customer's client dropped In-Reply-To and References, but kept the subject.
    answer = deliver(client, mailbox, mail(
        message_id="m2@example.es", subject=f"RE: Re: Factura [#{ticket.pk}]", body="¿Y la factura?",
    ))
    assert answer.ticket_id == ticket.pk


def test_a_new_mail_about_another_order_opens_another_ticket(client, mailbox):
    OrderFactory(store=mailbox.store, number="CL-1001")
    OrderFactory(store=mailbox.store, number="CL-1002")
    relay = "Juan Pérez - Amazon Marketplace <7kq2x9wz8r4hbdn@marketplace.amazon.es>"
    first = deliver(client, mailbox, mail(
        message_id="a1@amazon.es", sender=relay,
        subject="Consulta del cliente de Amazon (pedido: 171-1234567-1234567)",
        body="¿Cuándo llega mi pedido 171-1234567-1234567?",
    ))
    second = deliver(client, mailbox, mail(
        message_id="a2@amazon.es", sender=relay,
        subject="Consulta del cliente de Amazon (pedido: 171-7654321-7654321)",
        body="Otra pregunta sobre el pedido 171-7654321-7654321.",
    ))
    assert first.ticket_id != second.ticket_id
    assert first.ticket.customer_id == second.ticket.customer_id
    ticket = Ticket.objects.get(pk=first.ticket_id)
    assert (ticket.channel, ticket.marketplace) == ("amazon", "amazon.es")
    assert ticket.customer.identities.filter(kind="amazon_relay", value="7kq2x9wz8r4hbdn@marketplace.amazon.es").exists()


def test_amazon_mail_links_the_known_order(client, mailbox):
    order = OrderFactory(store=mailbox.store, marketplace="amazon", number="171-1234567-1234567",
                         external_id="171-1234567-1234567")
    message = deliver(client, mailbox, mail(
        message_id="a1@amazon.es", sender="Juan Pérez - Amazon Marketplace <7kq2x9wz8r4hbdn@marketplace.amazon.es>",
        subject="Consulta del cliente de Amazon (pedido: 171-1234567-1234567)", body="Hola",
    ))
    assert list(message.ticket.orders.all()) == [order]


def test_an_out_of_office_answer_joins_without_reopening_and_opens_nothing_alone(client, mailbox, smtp_server, alice):  # noqa: F811
    first = deliver(client, mailbox, mail(message_id="m1@example.es", subject="Pedido", body="Hola"))
    ticket = first.ticket
    reply = agent_reply(ticket, alice, smtp_server)
    actions.change_status(ticket=ticket, status=Ticket.Status.SOLVED)

    auto = mail(message_id="ooo1@example.es", subject="Respuesta automática: Re: Pedido", body="Estoy de vacaciones.",
                in_reply_to=reply.external_id).replace(b"MIME-Version", b"Auto-Submitted: auto-replied\r\nMIME-Version")
    joined = deliver(client, mailbox, auto)
    ticket.refresh_from_db()
    assert joined.ticket_id == ticket.pk and joined.is_auto_reply
    assert ticket.status == "solved"

    stray = mail(message_id="ooo2@example.es", subject="Out of Office", body="Away",
                 sender="Someone <someone@example.org>").replace(b"MIME-Version", b"Auto-Submitted: auto-replied\r\nMIME-Version")
    response = post_webhook(client, "mime", mailbox, stray, "message/rfc822", {"X-Helpdesk-Signature": sign(SECRET, stray)})
    assert process_event(response.json()["event"]) == "ignored"
    assert Ticket.objects.count() == 1
