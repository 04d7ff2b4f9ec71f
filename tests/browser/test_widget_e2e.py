"""The shop chat widget end to end, in real Chromium: a shop page on its own origin carries the
one-line snippet; the visitor asks where their order is and gets it, asks for a person; an agent in
another browser sees the bot's transcript and the order on the ticket page and replies; the visitor
sees the reply live, and again after reloading the page.

The helpdesk runs as in production (uvicorn with the ASGI app, a Celery worker sending replies, a
Redis of its own) on the test database; the shop page is served by a tiny HTTP server on another port.
"""

from __future__ import annotations

import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from channels_ingest.widget.models import WidgetConversation
from tests.factories import (
    PASSWORD,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ShipmentFactory,
    UserFactory,
)
from tests.stack import LocalStack, free_port, wait_until
from tests.widget_helpers import make_widget
from tickets.models import Channel, Message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def screenshot(page, name: str) -> None:
    """Saved when HELPDESK_SCREENSHOT_DIR is set, to look at the widget."""
    directory = os.environ.get("HELPDESK_SCREENSHOT_DIR")
    if directory:
        page.screenshot(path=os.path.join(directory, f"{name}.png"))


class ShopPage:
    """A pretend shop on http://127.0.0.1:<port>/ whose page carries the widget's snippet."""

    def __init__(self, snippet: str) -> None:
        page = (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Casa Lumbre</title>"
            "<style>button { background: red !important; }</style></head>"
            f"<body><h1>Casa Lumbre · lamps</h1>{snippet}</body></html>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ShopPage:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def helpdesk(tmp_path):
    with LocalStack(tmp_path, DJANGO_SECURE_COOKIES="0", HELPDESK_WIDGET_EMAIL_AFTER_SECONDS="600") as stack:
        stack.start_web()
        stack.start_worker(queues="default,outbound")
        yield stack


def test_visitor_gets_their_order_then_a_person_answers_live(browser, helpdesk):
    base = f"http://127.0.0.1:{helpdesk.port}"
    widget = make_widget(origins="", primary_colour="#b4441c")  # the shop's origin is known below
    customer = CustomerFactory(name="Marta Gil", email="marta.gil@correo.example")
    order = OrderFactory(store=widget.store, customer=customer, number="#1001", marketplace=Channel.SHOPIFY)
    OrderLineFactory(order=order, title="Ceramic table lamp", quantity=1)
    ShipmentFactory(order=order, carrier="Correos", tracking_number="PQ4F5R0000001",
                    tracking_url="https://www.correos.es/track?n=PQ4F5R0000001")
    UserFactory(username="lucia", first_name="Lucía", last_name="Fernández", role="agent")

    snippet = f'<script src="{base}/widget/{widget.public_key}.js" async></script>'
    with ShopPage(snippet) as shop:
        widget.allowed_origins = shop.url
        widget.save()
        visitor_context = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 800})
        visitor_context.set_default_timeout(20_000)
        agent_context = browser.new_context(base_url=base, locale="en-GB", viewport={"width": 1360, "height": 900})
        agent_context.set_default_timeout(20_000)
        try:
            visitor = visitor_context.new_page()
            visitor.goto(shop.url)
            # The shop's own styles do not reach the widget (it lives in a shadow root).
            launcher = visitor.locator("[data-part=launcher]")
            expect(launcher).to_be_visible()
            assert launcher.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(180, 68, 28)"
            launcher.click()
            log = visitor.locator("[data-part=log]")
            expect(log.locator(".hd-from-bot").first).to_be_visible()
            box = visitor.locator("[data-part=input]")

            box.fill("Where is my order #1001?")
            box.press("Enter")
            expect(log).to_contain_text("email address or the shipping postcode")
            box.fill("marta.gil@correo.example")
            box.press("Enter")
            expect(log).to_contain_text("PQ4F5R0000001")
            expect(log).to_contain_text("Ceramic table lamp")
            screenshot(visitor, "widget-order-status")

            box.fill("I want to talk to a person")
            box.press("Enter")
            expect(visitor.locator("[data-part=log][data-handed-off]")).to_have_count(1)
            conversation = WidgetConversation.objects.get()
            ticket = conversation.ticket
            assert ticket is not None and list(ticket.orders.all()) == [order]

            agent = agent_context.new_page()
            agent.goto("/login/")
            agent.get_by_label("Username").fill("lucia")
            agent.get_by_label("Password").fill(PASSWORD)
            agent.get_by_role("button", name="Sign in").click()
            expect(agent).to_have_url(re.compile(r"/tickets/"))
            agent.goto(f"/tickets/{ticket.pk}/")
            conversation_text = agent.locator("main")
            expect(conversation_text).to_contain_text("Where is my order #1001?")
            expect(conversation_text).to_contain_text("PQ4F5R0000001")  # the bot's answer, in the transcript
            expect(conversation_text).to_contain_text("I want to talk to a person")
            expect(conversation_text).to_contain_text("#1001")
            expect(conversation_text).to_contain_text("Ceramic table lamp")  # the order panel

            agent.locator("#composer-body").fill("Hola Marta, your lamp is with Correos and arrives tomorrow.")
            agent.locator("#composer-body").evaluate("element => element.form.requestSubmit()")

            # Live, without reloading the shop page.
            expect(log).to_contain_text("your lamp is with Correos and arrives tomorrow")
            expect(log.locator(".hd-from-agent .hd-author")).to_have_text("Lucía")
            screenshot(visitor, "widget-agent-reply")
            screenshot(agent, "widget-ticket-page")
            reply = Message.objects.get(ticket=ticket, author_user__username="lucia")
            wait_until(lambda: Message.objects.get(pk=reply.pk).delivery_state == Message.DeliveryState.READ,
                       timeout=20, what="the widget's read receipt")

            # A photo, uploaded across origins (CORS) with the visitor's token, reaches the agent.
            visitor.locator("[data-part=composer] input[type=file]").set_input_files(
                {"name": "broken-lamp.png", "mimeType": "image/png", "buffer": PNG})
            expect(log.locator(".hd-from-visitor .hd-file")).to_contain_text("broken-lamp.png")
            agent.reload()
            expect(agent.locator("main")).to_contain_text("broken-lamp.png")

            # The conversation survives a reload: the token is in the shop's localStorage.
            visitor.reload()
            visitor.locator("[data-part=launcher]").click()
            log = visitor.locator("[data-part=log]")
            expect(log).to_contain_text("your lamp is with Correos and arrives tomorrow")
            expect(log).to_contain_text("Where is my order #1001?")
            expect(log).to_contain_text("broken-lamp.png")
        finally:
            visitor_context.close()
            agent_context.close()
