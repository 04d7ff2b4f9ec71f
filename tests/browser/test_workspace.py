"""The agent workspace end to end, in real Chromium against the product's own ASGI server (HTTP and
WebSockets), a real Celery worker and a real SMTP server on loopback:

- a signed Mailgun webhook posted over HTTP during the test makes a ticket appear live in the inbox;
  the agent opens it, replies with a canned response, and sees the reply go from queued to sent;
- two agents on one ticket see each other (viewing, typing) and the writer is warned when the other
  replies;
- keyboard shortcuts and their help window; the language switch; labels and focus order.

Screenshots of the inbox and the ticket page are saved under tests/artifacts/browser/ (or
HELPDESK_SCREENSHOT_DIR); the folder is git-ignored.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.factories import (
    PASSWORD,
    CannedResponseFactory,
    CustomerFactory,
    MessageFactory,
    StoreFactory,
    TicketFactory,
    UserFactory,
)
from tests.stack import LocalStack, wait_until
from tests.test_email_send import smtp_server  # noqa: F401  (a fixture)
from tests.test_webhook_mailgun import SIGNING_KEY, parsed_post, signature_fields
from tests.webhook_helpers import fixture_bytes, make_email_account, multipart_form
from tickets.models import AgentProfile, Message, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("HELPDESK_SCREENSHOT_DIR") or BASE_DIR / "tests" / "artifacts" / "browser")
SUBJECT = "Order #1042 arrived damaged"  # the Mailgun fixture's email


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LocalStack]:
    """The product's ASGI server and a Celery worker on the test database, with a Redis of their
    own (broker, cache and channel layer): live events go from the worker to the pages."""
    with django_db_blocker.unblock():
        with LocalStack(tmp_path_factory.mktemp("workspace")) as running:
            running.start_web()
            running.start_worker(queues="default,ingest,outbound", concurrency=1)
            yield running


@pytest.fixture
def open_page(browser, stack) -> Iterator[Callable[..., Page]]:
    """Opens a page in a browser context of its own (its own cookies: one agent each)."""
    contexts = []
    logged = {name: len(stack.log(name)) for name in ("web", "worker")}

    def open_(locale: str = "en-GB") -> Page:
        context = browser.new_context(
            base_url=f"http://127.0.0.1:{stack.port}", locale=locale,
            viewport={"width": 1360, "height": 900},
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()
    for name, start in logged.items():
        # Shown when the test fails: what the server and the worker said meanwhile.
        print(f"--- {name} log ---\n{stack.log(name)[start:][-6000:]}")


def save_screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    assert path.stat().st_size > 10_000
    return path


def agent(username: str, first_name: str, **profile):
    user = UserFactory(username=username, role="agent")
    user.first_name, user.last_name = first_name, "Test"
    user.save()
    if profile:
        AgentProfile.objects.filter(user=user).update(**profile)
    return user


def sign_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    arrive(page, r"/tickets/$")


def arrive(page: Page, path_pattern: str) -> None:
    """Wait for a navigation to reach `path_pattern` and for its scripts to have run."""
    expect(page).to_have_url(re.compile(path_pattern))
    page.wait_for_load_state("load")


def inbox_row(page: Page, ticket_id: int):
    return page.locator(f'tr[data-ticket-row][data-ticket-id="{ticket_id}"]')


# --- A webhook during the test: the ticket appears live, a canned reply goes out ---------------


def hold_mail(smtp_server) -> threading.Event:  # noqa: F811
    """Make the loopback mail server wait before it accepts a message's DATA, until the returned
    event is set: the reply stays queued for as long as the test needs to see it so."""
    gate = threading.Event()
    accept = smtp_server.handler.handle_DATA

    async def handle_DATA(server, session, envelope) -> str:
        while not gate.is_set():
            await asyncio.sleep(0.05)
        return await accept(server, session, envelope)

    smtp_server.handler.handle_DATA = handle_DATA
    return gate


def test_webhook_ticket_appears_live_and_canned_reply_is_delivered(open_page, stack, smtp_server):  # noqa: F811
    account = make_email_account(
        "mailgun", {"webhook_signing_key": SIGNING_KEY},
        {"address": "support@shop.example.com", "from_name": "Cosy Mugs", "smtp_host": "127.0.0.1",
         "smtp_port": smtp_server.port, "smtp_security": "none"},
    )
    CannedResponseFactory(
        title="Replacement on its way",
        body="Hello {{ customer_first_name }}, a new mug is on its way to you today.",
    )
    mail_server_may_answer = hold_mail(smtp_server)
    agent("ana", "Ana")
    page = open_page()
    sign_in(page, "ana")
    expect(page.locator("tr[data-ticket-row]")).to_have_count(0)
    page.evaluate("window.__notReloaded = true")
    # The agent is looking at another window meanwhile (headless Chromium always has the focus).
    page.evaluate("document.hasFocus = () => false")

    body, content_type = parsed_post(signature_fields())
    status, _answer = stack.post(f"/hooks/mailgun/{account.public_id}/", body, {"Content-Type": content_type})
    assert status == 200

    # The worker threads it and the inbox hears of it over its WebSocket: no reload.
    row = page.locator("tr[data-ticket-row]").filter(has_text=SUBJECT)
    expect(row).to_have_count(1, timeout=30_000)
    assert page.evaluate("window.__notReloaded") is True
    ticket = Ticket.objects.get(subject=SUBJECT)
    expect(row).to_have_attribute("data-ticket-id", str(ticket.pk))
    expect(page).to_have_title(re.compile(r"^\(1\) Inbox"))  # the tab counts what is new
    page.evaluate("delete document.hasFocus; window.dispatchEvent(new Event('focus'))")
    expect(page).to_have_title(re.compile(r"^Inbox"))  # back: seen
    save_screenshot(page, "inbox")

    row.get_by_role("link", name=SUBJECT).first.click()
    expect(page).to_have_url(re.compile(rf"/tickets/{ticket.pk}/"))
    # The customer's HTML email, in its sandboxed frame.
    expect(page.frame_locator("ol.conversation iframe").first.locator("body")).to_contain_text(
        "my order #1042 arrived today")

    # The canned response, searched by title, fills the composer with its variables filled in.
    composer = page.locator("#composer-body")
    page.get_by_text("Canned responses", exact=True).click()
    page.get_by_label("Search canned responses by title").fill("replacement")
    page.get_by_role("link", name="Replacement on its way").click()
    preview = page.locator("#canned-preview")
    expect(preview).to_contain_text("Hello María, a new mug is on its way to you today.")
    preview.get_by_role("button", name="Insert into the reply").click()
    expect(composer).to_have_value("Hello María, a new mug is on its way to you today.")
    page.get_by_role("button", name=re.compile(r"^Send$")).click()

    reply = page.locator("ol.conversation > li").filter(has_text="a new mug is on its way")
    expect(reply).to_have_count(1)
    # Queued first: the mail server holds the worker's DATA until the page has shown it.
    badge = reply.locator(".badge--delivery")
    expect(badge).to_have_text("Queued")
    expect(badge).to_have_class(re.compile(r"\bdl-queued\b"))
    page.evaluate("window.__notReloaded = true")
    mail_server_may_answer.set()
    # Then sent by the worker through the SMTP server on loopback: the badge changes in place.
    wait_until(lambda: len(smtp_server.messages) == 1, timeout=60, what="the reply by SMTP")
    expect(badge).to_have_text("Sent", timeout=30_000)
    expect(badge).to_have_class(re.compile(r"\bdl-sent\b"))
    assert page.evaluate("window.__notReloaded") is True
    sent = Message.objects.get(ticket=ticket, direction=Message.Direction.OUTBOUND)
    assert sent.delivery_state == Message.DeliveryState.SENT
    assert "Hello María, a new mug is on its way to you today." in smtp_server.messages[0].get_body(
        ("plain",)).get_content()
    save_screenshot(page, "ticket")


# --- Two agents on one ticket ------------------------------------------------------------------


@pytest.fixture
def shared_ticket(db) -> Ticket:
    ticket = TicketFactory(
        store=StoreFactory(name="Cosy Mugs", slug="cosy-mugs"),
        customer=CustomerFactory(name="Maria López", email="maria@example.org"),
        subject="Where is my parcel?", status=Ticket.Status.OPEN,
    )
    MessageFactory(ticket=ticket, body_text="It has been ten days.")
    return ticket


def test_two_agents_see_each_other_and_the_writer_is_warned(open_page, shared_ticket):
    agent("ana", "Ana")
    agent("ben", "Ben")
    ana, ben = open_page(), open_page()
    sign_in(ana, "ana")
    sign_in(ben, "ben")
    url = f"/tickets/{shared_ticket.pk}/"
    ana.goto(url)
    ben.goto(url)

    ana_sees = ana.locator("#presence")
    ben_sees = ben.locator("#presence")
    expect(ana_sees).to_have_text("Ben Test is viewing")
    expect(ben_sees).to_have_text("Ana Test is viewing")
    expect(ana_sees).to_have_attribute("role", "status")

    # Ben types: Ana sees it; Ben goes quiet: after a few seconds he is only viewing again.
    ben.locator("#composer-body").press_sequentially("On its way", delay=20)
    expect(ana_sees).to_have_text("Ben Test is typing a reply…")
    expect(ana_sees).to_have_text("Ben Test is viewing", timeout=15_000)

    # Ana writes; Ben's reply arrives meanwhile: Ana is warned before she sends.
    ana.locator("#composer-body").fill("Let me check with the courier")
    ana.locator("#composer-body").press("End")
    ben.locator("#composer-body").fill("Your parcel arrives tomorrow.")
    ben.locator("#composer-body").press("Control+Enter")  # sends, as the Send button does
    expect(ben.locator("ol.conversation")).to_contain_text("Your parcel arrives tomorrow.")
    banner = ana.locator("#presence-conflict")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text("Ben Test replied to this ticket while you were writing.")
    save_screenshot(ana, "ticket-collision")

    # "Show the new message" reloads the conversation and keeps Ana's draft.
    banner.get_by_role("button", name="Show the new message").click()
    expect(ana.locator("ol.conversation")).to_contain_text("Your parcel arrives tomorrow.")
    expect(ana.locator("#composer-body")).to_have_value("Let me check with the courier")

    # Ben leaves: Ana's list empties.
    ben.close()
    expect(ana_sees).to_be_hidden()


def follow_up_post() -> tuple[bytes, str]:
    """The customer's answer to the fixture's email, as Mailgun posts it: same thread
    (In-Reply-To and References name the first message), no attachment."""
    fixture = json.loads(fixture_bytes("mailgun", "inbound__parsed.json"))
    fields = dict(fixture["fields"])
    text = "Any news? I need the mug for a birthday on Friday."
    headers = [
        [name, value] for name, value in json.loads(fields["message-headers"])
        if name not in ("Message-Id", "Subject", "Content-Type")
    ]
    headers += [
        ["Message-Id", "<CAF7x2Lq9mQ0rT+follow-up@mail.example.org>"],
        ["In-Reply-To", "<CAF7x2Lq9mQ0rT+broken-mug@mail.example.org>"],
        ["References", "<CAF7x2Lq9mQ0rT+broken-mug@mail.example.org>"],
        ["Subject", f"Re: {SUBJECT}"],
        ["Content-Type", "text/plain; charset=UTF-8"],
    ]
    fields.update({
        "subject": f"Re: {SUBJECT}", "body-plain": text, "stripped-text": text,
        "body-html": f"<p>{text}</p>", "stripped-html": f"<p>{text}</p>", "attachment-count": "0",
        "message-headers": json.dumps(headers),
    })
    return multipart_form([*fields.items(), *signature_fields()])


def test_writer_is_warned_when_the_customer_writes_again(open_page, stack):
    account = make_email_account(
        "mailgun", {"webhook_signing_key": SIGNING_KEY}, {"address": "support@shop.example.com"}
    )
    agent("ana", "Ana")
    body, content_type = parsed_post(signature_fields())
    assert stack.post(f"/hooks/mailgun/{account.public_id}/", body, {"Content-Type": content_type})[0] == 200
    wait_until(lambda: Ticket.objects.filter(subject=SUBJECT).exists(), timeout=60, what="the ticket")
    ticket = Ticket.objects.get(subject=SUBJECT)

    page = open_page()
    sign_in(page, "ana")
    page.goto(f"/tickets/{ticket.pk}/")
    page.locator("#composer-body").fill("We are sending you a new mug today.")
    banner = page.locator("#presence-conflict")
    expect(banner).to_be_hidden()

    body, content_type = follow_up_post()
    assert stack.post(f"/hooks/mailgun/{account.public_id}/", body, {"Content-Type": content_type})[0] == 200
    expect(banner).to_be_visible(timeout=30_000)
    expect(banner).to_contain_text(
        "The customer wrote again while you were writing. Read the new message before you send.")
    assert Message.objects.filter(ticket=ticket, direction=Message.Direction.INBOUND).count() == 2

    # Sending regardless: the server holds the reply back once and asks.
    page.get_by_role("button", name=re.compile(r"^Send$")).click()
    expect(page.get_by_role("alert").filter(has_text="new messages arrived while you wrote")).to_be_visible()
    expect(page.locator("#composer-body")).to_have_value("We are sending you a new mug today.")
    assert not Message.objects.filter(ticket=ticket, direction=Message.Direction.OUTBOUND).exists()
    page.get_by_label("Send anyway").check()
    page.get_by_role("button", name=re.compile(r"^Send$")).click()
    expect(page.locator("ol.conversation > li").filter(has_text="We are sending you a new mug today.")).to_have_count(1)
    assert Message.objects.filter(ticket=ticket, direction=Message.Direction.OUTBOUND).count() == 1


# --- Keyboard shortcuts ------------------------------------------------------------------------


@pytest.fixture
def three_tickets(db) -> list[Ticket]:
    store = StoreFactory(name="Cosy Mugs", slug="cosy-mugs")
    tickets = []
    for subject in ("First question", "Second question", "Third question"):
        ticket = TicketFactory(store=store, subject=subject, status=Ticket.Status.OPEN)
        MessageFactory(ticket=ticket, body_text=f"{subject}, please help.")
        tickets.append(ticket)
    return tickets


def active(page: Page) -> str:
    """What has the focus: id, or tag and data-ticket-id."""
    return page.evaluate(
        "() => { const e = document.activeElement; if (!e) return ''; "
        "return e.id || (e.tagName.toLowerCase() + (e.dataset.ticketId ? ':' + e.dataset.ticketId : '')); }"
    )


def test_keyboard_shortcuts_in_the_inbox_and_on_a_ticket(open_page, three_tickets):
    ana_user = agent("ana", "Ana")
    page = open_page()
    sign_in(page, "ana")
    rows = page.locator("tr[data-ticket-row]")
    expect(rows).to_have_count(3)
    ids = [int(value) for value in rows.evaluate_all("rows => rows.map(r => r.dataset.ticketId)")]

    page.keyboard.press("j")
    assert active(page) == f"tr:{ids[0]}"
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert active(page) == f"tr:{ids[2]}"
    page.keyboard.press("k")
    assert active(page) == f"tr:{ids[1]}"
    expect(inbox_row(page, ids[1])).to_have_class(re.compile(r"\bis-selected\b"))

    page.keyboard.press("/")
    assert active(page) == "inbox-search"
    page.keyboard.type("jk")  # typing in a field is typing, not shortcuts
    expect(page.locator("#inbox-search")).to_have_value("jk")
    assert active(page) == "inbox-search"
    page.keyboard.press("Escape")
    page.locator("#inbox-search").fill("")
    page.keyboard.press("Escape")

    # The selection stayed where it was while the agent searched.
    page.keyboard.press("k")
    assert active(page) == f"tr:{ids[0]}"
    page.keyboard.press("j")
    page.keyboard.press("o")
    arrive(page, rf"/tickets/{ids[1]}/")

    # On the ticket: r and n choose reply or note and put the cursor in the composer.
    page.keyboard.press("n")
    assert active(page) == "composer-body"
    expect(page.locator('[data-composer-mode="note"]')).to_be_checked()
    page.keyboard.type("j is a letter here")
    expect(page.locator("#composer-body")).to_have_value("j is a letter here")
    arrive(page, rf"/tickets/{ids[1]}/")
    page.keyboard.press("Escape")
    assert active(page) != "composer-body"
    page.keyboard.press("r")
    assert active(page) == "composer-body"
    expect(page.locator('[data-composer-mode="reply"]')).to_be_checked()
    page.keyboard.press("Escape")

    page.keyboard.press("s")
    assert active(page) == "ticket-status"
    page.keyboard.press("Escape")

    # j / k: the neighbours in the inbox view the agent came from (before this one
    # changes: assigning and solving move it in the view's order).
    page.keyboard.press("j")
    arrive(page, rf"/tickets/{ids[2]}/")
    page.keyboard.press("k")
    arrive(page, rf"/tickets/{ids[1]}/")

    page.keyboard.press("a")
    expect(page.locator(".ticket-head")).to_contain_text("Ana Test")
    page.wait_for_load_state("load")
    wait_until(lambda: Ticket.objects.get(pk=ids[1]).assignee_id == ana_user.pk, timeout=10,
               what="the assignment")

    page.keyboard.press("Shift+S")
    wait_until(lambda: Ticket.objects.get(pk=ids[1]).status == Ticket.Status.SOLVED, timeout=10,
               what="the ticket to be solved")
    expect(page.locator(".ticket-head")).to_contain_text("Solved")
    expect(page.locator("#ticket-status")).to_have_value("solved")
    page.wait_for_load_state("load")

    # "/" away from the inbox goes to the inbox's search box.
    page.keyboard.press("/")
    arrive(page, r"/tickets/#search$")
    expect(page.locator("#inbox-search")).to_be_focused()


def test_help_window_lists_the_shortcuts_and_keeps_the_focus(open_page, three_tickets):
    agent("ana", "Ana")
    page = open_page()
    sign_in(page, "ana")
    help_window = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_window).to_be_hidden()
    page.locator("#inbox-search").focus()
    page.keyboard.press("Escape")  # leave the field, as the help says

    page.keyboard.press("?")
    expect(help_window).to_be_visible()
    for row in ["j / k Next / previous ticket", "o or Enter Open the selected ticket (inbox)",
                "/ Search tickets", "r Reply to the customer", "n Write an internal note",
                "a Assign the ticket to me", "s Change the status", "Shift + s Mark the ticket solved",
                "Ctrl + Enter Send (in the message box)", "? Show this help"]:
        expect(help_window.get_by_role("row", name=row, exact=True)).to_be_visible()
    assert page.evaluate("document.getElementById('shortcuts-help').contains(document.activeElement)")
    page.screenshot(path=str(ARTIFACTS / "shortcuts-help.png"))

    # Tab and Shift+Tab never leave the window.
    for key in ["Tab"] * 5 + ["Shift+Tab"] * 5:
        page.keyboard.press(key)
        assert page.evaluate("document.getElementById('shortcuts-help').contains(document.activeElement)"), key
    # Shortcuts do not fire behind it.
    page.keyboard.press("j")
    expect(page.locator("tr[data-ticket-row].is-selected")).to_have_count(0)

    page.keyboard.press("Escape")
    expect(help_window).to_be_hidden()

    # Closing gives the focus back to where it was.
    page.keyboard.press("j")
    selected = active(page)
    assert selected.startswith("tr:")
    page.keyboard.press("?")
    expect(help_window).to_be_visible()
    assert active(page) != selected
    help_window.get_by_role("button", name="Close").click()
    expect(help_window).to_be_hidden()
    assert active(page) == selected

    # The top bar's "?" button opens it too.
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(help_window).to_be_visible()
    page.keyboard.press("Escape")
    expect(help_window).to_be_hidden()
    inbox_row(page, selected.removeprefix("tr:")).focus()

    # On a tablet the window fits the screen.
    page.set_viewport_size({"width": 768, "height": 1024})
    page.keyboard.press("?")
    box = help_window.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= 768 and box["y"] + box["height"] <= 1024
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": 1360, "height": 900})

    # Enter on the selected row opens it.
    page.keyboard.press("Enter")
    arrive(page, rf"/tickets/{selected.removeprefix('tr:')}/")


# --- Language -------------------------------------------------------------------------------


def test_language_switch_changes_the_pages_and_is_kept_on_the_profile(open_page, three_tickets):
    ana_user = agent("ana", "Ana")
    page = open_page()
    sign_in(page, "ana")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".topnav").get_by_role("link", name="Inbox", exact=True)).to_be_visible()

    page.locator("#language-select").select_option("es")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator(".topnav").get_by_role("link", name="Bandeja de entrada", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    assert AgentProfile.objects.get(user=ana_user).language == "es"

    page.locator("#language-select").select_option("ro")
    page.get_by_role("button", name="Cambiar idioma").click()
    expect(page.locator("html")).to_have_attribute("lang", "ro")
    expect(page.get_by_role("button", name="Deconectare")).to_be_visible()
    page.goto(f"/tickets/{three_tickets[0].pk}/")
    expect(page.locator("html")).to_have_attribute("lang", "ro")
    assert AgentProfile.objects.get(user=ana_user).language == "ro"

    # Another browser, no language cookie: the profile's choice holds.
    elsewhere = open_page(locale="en-GB")
    sign_in(elsewhere, "ana")
    expect(elsewhere.locator("html")).to_have_attribute("lang", "ro")


# --- Accessibility -----------------------------------------------------------------------------

UNLABELLED_CONTROLS = """
() => Array.from(document.querySelectorAll('input, select, textarea, button'))
  .filter(el => el.type !== 'hidden' && el.getClientRects().length > 0 && !el.closest('dialog:not([open])'))
  .filter(el => {
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.title) return false;
    if (el.labels && el.labels.length && Array.from(el.labels).some(l => l.textContent.trim())) return false;
    if (el.tagName === 'BUTTON' && el.textContent.trim()) return false;
    if (el.type === 'submit' && el.value) return false;
    return true;
  })
  .map(el => el.outerHTML.slice(0, 120))
"""


def tab_until(page: Page, element_id: str, limit: int = 150) -> int:
    """Presses Tab from the top of the page (its first link, "Skip to content") until
    `element_id` has the focus; the presses taken."""
    page.locator("a.skip-link").focus()
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if active(page) == element_id:
            return presses
    raise AssertionError(f"{element_id} is not reached by Tab within {limit} presses")


def test_inbox_and_ticket_page_are_labelled_and_keyboard_reachable(open_page, three_tickets):
    agent("ana", "Ana")
    page = open_page()
    sign_in(page, "ana")

    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.locator("[tabindex]:not([tabindex='0']):not([tabindex='-1'])").count() == 0
    expect(page.get_by_role("link", name="Skip to content")).to_have_attribute("href", "#main")
    assert tab_until(page, "inbox-search") < 60

    page.goto(f"/tickets/{three_tickets[0].pk}/")
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.locator("[tabindex]:not([tabindex='0']):not([tabindex='-1'])").count() == 0
    # The composer is reached by Tab, and before the side panel's controls.
    composer = tab_until(page, "composer-body")
    status = tab_until(page, "ticket-status")
    assert composer < status
    expect(page.locator("#composer-body")).to_have_accessible_name(re.compile(r"\S"))
