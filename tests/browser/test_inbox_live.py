"""The inbox in real Chromium against the product's ASGI server (HTTP and WebSocket): bulk actions
through the toolbar, and the list kept live by inbox.js: a ticket changed by another agent updates
in place, a new ticket appears at its place, the selection survives the refresh, and the tab title
counts what arrived while the agent was away."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, TicketFactory, UserFactory
from tests.stack import LocalStack
from tickets import actions
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Whether the agent looks at the page is the browser window's focus, which headless Chromium gives
# every page; the tests decide it instead (window.__away).
AWAY_SWITCH = "document.hasFocus = () => !window.__away;"


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LocalStack]:
    with django_db_blocker.unblock():
        with LocalStack(tmp_path_factory.mktemp("inbox")) as running:
            running.start_web()
            yield running


@pytest.fixture
def live_events_to_the_stack(stack, settings):
    """Actions run by the test itself publish on the stack's channel layer, as a worker would."""
    from channels.layers import channel_layers

    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {
        "default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [stack.redis.url(0)]}}
    }
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def open_page(browser, stack) -> Iterator[Callable[[], Page]]:
    contexts = []

    def open_() -> Page:
        context = browser.new_context(
            base_url=f"http://127.0.0.1:{stack.port}",
            locale="en-GB",
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(15_000)
        context.add_init_script(AWAY_SWITCH)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()
    print(f"--- web log ---\n{stack.log('web')[-4000:]}")


def sign_in(page: Page, username: str, then: str = "/tickets/?view=open") -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/tickets/"))
    page.goto(then)
    expect(page.locator('[data-inbox][data-live="connected"]')).to_be_visible()


def save_screenshots(page: Page, name: str) -> None:
    """At 1280 px and at a tablet's 820 px, when HELPDESK_SCREENSHOT_DIR names a folder."""
    directory = os.environ.get("HELPDESK_SCREENSHOT_DIR")
    if not directory:
        return
    for width in (1280, 820):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(Path(directory) / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def row(page: Page, ticket: Ticket):
    return page.locator(f'tr[data-ticket-row][data-ticket-id="{ticket.pk}"]')


def agent(username: str, first_name: str):
    user = UserFactory(username=username, role="agent")
    user.first_name, user.last_name = first_name, "Test"
    user.save()
    return user


def test_bulk_assign_from_the_toolbar(open_page):
    agent("ana", "Ana")
    ben = agent("ben", "Ben")
    first, second, third = (
        TicketFactory(subject=f"Parcel {n}", status=Ticket.Status.OPEN) for n in range(3)
    )
    page = open_page()
    sign_in(page, "ana")

    row(page, first).get_by_role("checkbox").check()
    row(page, third).get_by_role("checkbox").check()
    expect(page.locator("[data-selected-count]")).to_have_text("Selected: 2")
    # The merge target offers exactly the selected tickets.
    expect(page.locator("#bulk-merge-target option")).to_have_count(3)
    page.get_by_label("Assign to").select_option(label="Ben Test")
    page.get_by_role("button", name="Assign", exact=True).click()

    expect(page.locator(".flash")).to_contain_text("2 tickets updated.")
    assert [t.assignee_id for t in Ticket.objects.order_by("pk")] == [ben.pk, None, ben.pk]
    assert second.pk  # untouched


def test_select_all_and_a_confirmation_before_spam(open_page):
    agent("ana", "Ana")
    tickets = [TicketFactory(status=Ticket.Status.OPEN) for _ in range(3)]
    page = open_page()
    sign_in(page, "ana")

    page.get_by_label("Select every ticket on this page").check()
    expect(page.locator("[data-selected-count]")).to_have_text("Selected: 3")
    save_screenshots(page, "inbox")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Mark as spam").click()
    page.wait_for_timeout(300)
    assert not Ticket.objects.filter(is_spam=True).exists()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Mark as spam").click()
    expect(page.locator(".flash")).to_contain_text("3 tickets updated.")
    assert Ticket.objects.filter(is_spam=True).count() == len(tickets)


def test_the_list_stays_live_and_the_tab_counts_while_away(open_page, live_events_to_the_stack):
    ana = agent("ana", "Ana")
    agent("ben", "Ben")
    older = TicketFactory(subject="Older question", status=Ticket.Status.OPEN)
    watched = TicketFactory(subject="Watched question", status=Ticket.Status.OPEN)
    page = open_page()
    sign_in(page, "ana")
    row(page, older).get_by_role("checkbox").check()
    # Click off the checkbox, as a reader would, then move down the list with the keyboard.
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("j")
    expect(row(page, watched)).to_have_class(re.compile(r"\bis-selected\b"))

    # Ben assigns the watched ticket to himself from his own inbox: Ana's row updates in place.
    other = open_page()
    sign_in(other, "ben")
    row(other, watched).get_by_role("checkbox").check()
    other.get_by_label("Assign to").select_option("me")
    other.get_by_role("button", name="Assign", exact=True).click()
    expect(row(page, watched)).to_contain_text("Ben")
    # The keyboard's current row (j/k, shortcuts.js) is still current after the swap.
    expect(row(page, watched)).to_have_class(re.compile(r"\bis-selected\b"))
    expect(page).to_have_title(re.compile(r"^Inbox"))  # Ana was looking: nothing to count

    # Ana goes to another tab; a customer writes in: the ticket appears on top, the title counts it.
    page.evaluate("window.__away = true")
    customer = older.customer
    fresh = actions.create_ticket(
        store=older.store, channel="email", customer=customer, subject="Brand new"
    )
    actions.add_message(
        ticket=fresh, direction="inbound", body_text="Hello?", author_customer=customer
    )
    expect(page.locator("tr[data-ticket-row]").first).to_have_attribute(
        "data-ticket-id", str(fresh.pk)
    )
    expect(page).to_have_title(re.compile(r"^\(1\) Inbox"))
    # The row Ana ticked before the refresh is still ticked.
    expect(row(page, older).get_by_role("checkbox")).to_be_checked()

    # Back on the tab: the count goes.
    page.evaluate("window.__away = false; window.dispatchEvent(new Event('focus'))")
    expect(page).to_have_title(re.compile(r"^Inbox"))
    assert ana.pk
