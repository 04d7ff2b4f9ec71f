"""The survey goes out on the ticket's channel: by email from the ticket's mailbox (real SMTP on
loopback), through Django's email backend when there is no mailbox, and on message channels as a
link message on the outbound road, sent by the channel's adapter to its API (a loopback HTTP
server here)."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.utils import timezone, translation

from channels_ingest import outbound, registry
from channels_ingest.adapters.generic.adapter import GenericAdapter
from channels_ingest.base import ChannelError, SendResult, TransientError
from surveys import actions
from surveys.models import Survey, SurveySettings
from tests.factories import (
    ChannelAccountFactory,
    ChannelIdentityFactory,
    CustomerFactory,
    StoreFactory,
    TicketFactory,
)
from tests.test_email_send import mailbox_account, smtp_server  # noqa: F401  (smtp_server is a fixture)
from tickets.models import Channel, ChannelIdentity, Message, Ticket

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://[^\s\"<>]+/s/[^\s\"<>/]+/(?:\?kind=csat&(?:amp;)?score=\d)?")


def settings_for(store, **fields) -> SurveySettings:
    return SurveySettings.objects.create(store=store, delay_minutes=0, **fields)


def solved(store, **fields) -> Ticket:
    return TicketFactory(store=store, status=Ticket.Status.SOLVED, solved_at=timezone.now(), **fields)


def send_now(ticket: Ticket, **kwargs) -> Survey:
    survey = actions.schedule_survey(ticket)
    actions.send_survey(survey.pk, **kwargs)
    survey.refresh_from_db()
    return survey


# --- Email from the ticket's mailbox ------------------------------------------------------------


@pytest.fixture
def mailbox(smtp_server):  # noqa: F811
    account = mailbox_account(smtp_server.port)
    settings_for(account.store)
    return account


def test_email_leaves_from_the_tickets_mailbox_with_one_link_per_score(mailbox, smtp_server):  # noqa: F811
    customer = CustomerFactory(name="Marta Gil", email="marta.gil@correo.example", language="es")
    ChannelIdentityFactory(customer=customer, kind=ChannelIdentity.Kind.EMAIL, value=customer.email)
    ticket = solved(mailbox.store, channel=Channel.EMAIL, channel_account=mailbox, customer=customer)

    survey = send_now(ticket)

    assert survey.status == Survey.Status.SENT
    envelope = smtp_server.handler.envelopes[0]
    assert envelope.mail_from == "soporte@casalumbre.example"
    assert envelope.rcpt_tos == ["marta.gil@correo.example"]
    message = smtp_server.messages[0]
    assert message["From"] == "Casa Lumbre <soporte@casalumbre.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Subject"].endswith(f" [#{ticket.pk}]")  # a reply to it joins the ticket
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert '<html lang="es">' in html
    with translation.override("es"):  # the customer's language
        assert translation.gettext("How satisfied are you with the service you received?") in text
    text_links = [link for link in LINK.findall(text) if "score=" in link]
    assert [link.rsplit("=", 1)[1] for link in text_links] == ["1", "2", "3", "4", "5"]
    assert len([link for link in LINK.findall(html) if "score=" in link]) == 5
    # The link opens this very survey.
    from surveys.tokens import read_token

    token = text_links[0].split("/s/")[1].split("/")[0]
    assert read_token(token) == survey.pk


def test_a_mail_server_fault_leaves_the_survey_to_be_retried(mailbox, smtp_server):  # noqa: F811
    smtp_server.handler.refuse_data = "451 4.3.0 Try again later"
    ticket = solved(mailbox.store, channel_account=mailbox, customer=CustomerFactory(email="ana@example.org"))
    survey = actions.schedule_survey(ticket)

    with pytest.raises(TransientError):
        actions.send_survey(survey.pk)
    survey.refresh_from_db()
    assert survey.status == Survey.Status.SCHEDULED
    assert "451" in survey.skip_reason

    actions.send_survey(survey.pk, final_attempt=True)
    survey.refresh_from_db()
    assert survey.status == Survey.Status.FAILED


def test_a_refused_recipient_fails_the_survey_at_once(mailbox, smtp_server):  # noqa: F811
    smtp_server.handler.refuse_rcpt = {"gone@example.org": "550 5.1.1 No such user"}
    ticket = solved(mailbox.store, channel_account=mailbox, customer=CustomerFactory(email="gone@example.org"))
    survey = send_now(ticket)
    assert survey.status == Survey.Status.FAILED
    assert "550" in survey.skip_reason


# --- Email through Django's backend ------------------------------------------------------------


def test_without_a_mailbox_the_survey_goes_through_djangos_email_backend(settings):
    settings.DEFAULT_FROM_EMAIL = "help@cosymugs.example"
    store = StoreFactory(name="Cosy Mugs", slug="cosy-mugs")
    settings_for(store, ask_csat=False, ask_nps=True)
    ticket = solved(store, channel=Channel.SHOPIFY, customer=CustomerFactory(email="li@example.org", language="en"))

    survey = send_now(ticket)

    assert survey.status == Survey.Status.SENT
    sent = mail.outbox[0]
    assert sent.to == ["li@example.org"]
    assert sent.from_email == "Cosy Mugs <help@cosymugs.example>"
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    assert "How likely are you to recommend Cosy Mugs to a friend or colleague?" in sent.body
    html, mimetype = sent.alternatives[0]
    assert mimetype == "text/html"
    assert html.count("score=") == 11  # 0..10


# --- Message channels: the outbound road ----------------------------------------------------------


class ChatApi:
    """A chat provider's send API on loopback: records each JSON body it is given."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers["Content-Length"])
                api.received.append(json.loads(self.rfile.read(length)))
                body = json.dumps({"id": f"msg-{len(api.received)}"}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/messages"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class LoopbackChatAdapter(GenericAdapter):
    """The generic adapter with a send API: posts {to, text} to the account's `api_url`."""

    slug = "loopback-chat"
    channel = "chat"

    def send_reply(self, message: Message) -> SendResult:
        request = urllib.request.Request(
            message.channel_account.settings["api_url"],
            data=json.dumps({"to": message.ticket.external_thread_id, "text": message.body_text}).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return SendResult(external_id=json.loads(response.read())["id"])
        except OSError as exc:
            raise ChannelError(str(exc), permanent=False) from exc


@pytest.fixture
def chat_api(monkeypatch):
    monkeypatch.setitem(registry.ADAPTERS, "loopback-chat", "tests.test_survey_sending.LoopbackChatAdapter")
    registry.get_adapter.cache_clear()
    api = ChatApi()
    yield api
    api.server.shutdown()
    registry.get_adapter.cache_clear()


@pytest.mark.parametrize("channel", [Channel.CHAT, Channel.WHATSAPP, Channel.SMS, Channel.MESSENGER])
def test_on_message_channels_a_link_goes_out_on_the_outbound_road(chat_api, channel):
    store = StoreFactory(name="Cosy Mugs", slug="cosy-mugs")
    settings_for(store)
    account = ChannelAccountFactory(store=store, channel=channel, provider="loopback-chat",
                                    settings={"api_url": chat_api.url})
    ticket = solved(store, channel=channel, channel_account=account, external_thread_id="conv-77")

    survey = send_now(ticket)

    assert survey.status == Survey.Status.SENT
    message = ticket.messages.get()
    assert message.direction == Message.Direction.OUTBOUND
    assert message.author_type == Message.AuthorType.SYSTEM
    assert message.delivery_state == Message.DeliveryState.QUEUED
    assert message.metadata == {"survey_id": survey.pk}
    assert message.is_auto_reply
    after = Ticket.objects.get(pk=ticket.pk)
    assert after.status == Ticket.Status.SOLVED  # the survey reopens nothing
    assert after.last_agent_message_at is None  # and is nobody's answer

    outbound.send_message(message.pk)

    message.refresh_from_db()
    assert message.delivery_state == Message.DeliveryState.SENT
    assert message.external_id == "msg-1"
    [sent] = chat_api.received
    assert sent["to"] == "conv-77"
    assert sent["text"].startswith("How satisfied are you with the service you received? Tell us in one tap: http")
    assert "/s/" in sent["text"]
    assert mail.outbox == []


def test_a_message_channel_without_an_account_fails_with_the_reason():
    store = StoreFactory()
    settings_for(store)
    survey = send_now(solved(store, channel=Channel.CHAT))
    assert survey.status == Survey.Status.FAILED
    assert survey.skip_reason == "The ticket has no channel account to send the survey on."
