"""The ticket page's composer in a real browser: a canned response found by title, previewed with
the ticket's details and inserted; an internal note with an @mention chosen from the suggestions;
the page at a laptop's and a tablet's width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import (
    PASSWORD,
    CannedResponseFactory,
    CustomerFactory,
    MessageFactory,
    OrderFactory,
    StoreFactory,
    TicketFactory,
    UserFactory,
)
from tickets.models import Message, Notification

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ticket(transactional_db):
    agent = UserFactory(username="alice", role="agent", first_name="Alice")
    UserFactory(username="bruno", role="agent", first_name="Bruno", last_name="Díaz")
    store = StoreFactory(name="Cosy Mugs")
    customer = CustomerFactory(name="Maria López", time_zone="Europe/Madrid")
    ticket = TicketFactory(store=store, customer=customer, subject="Where is my mug?", language="en")
    ticket.orders.add(OrderFactory(store=store, customer=customer, number="#1042"))
    MessageFactory(ticket=ticket, body_text="Hello, where is my order?")
    CannedResponseFactory(title="Shipping delay", body="Hi {{ customer_first_name }}, order {{ order_number }} "
                                                       "is delayed.")
    CannedResponseFactory(title="Refund accepted", body="Refunded.")
    return {"agent": agent, "ticket": ticket}


def test_canned_response_and_mention_from_the_composer(page, ticket, screenshot):
    url = f"/tickets/{ticket['ticket'].pk}/"
    page.goto(url)
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"{url}$"))

    page.get_by_text("Canned responses", exact=True).click()
    page.get_by_label("Search canned responses by title").fill("ship")
    expect(page.get_by_role("link", name="Refund accepted")).to_be_hidden()
    page.get_by_role("link", name="Shipping delay").click()
    expect(page.locator("#canned-preview")).to_contain_text("Hi Maria, order #1042 is delayed.")
    page.get_by_role("button", name="Insert into the reply").click()
    expect(page.locator("#composer-body")).to_have_value("Hi Maria, order #1042 is delayed.")
    screenshot("ticket-page-1360")

    page.locator('[data-composer-mode="note"]').check()
    body = page.locator("#composer-body")
    body.fill("")
    body.press_sequentially("Please check @br")
    expect(page.locator("#mention-list").get_by_role("option", name=re.compile("Bruno Díaz"))).to_be_visible()
    body.press("Enter")
    expect(body).to_have_value("Please check @bruno ")
    page.get_by_role("button", name="Send", exact=True).click()

    expect(page.locator(".flash")).to_contain_text("Internal note added.")
    note = Message.objects.get(direction=Message.Direction.NOTE)
    assert note.body_text == "Please check @bruno"
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["bruno"]

    for width, name in ((1280, "ticket-page-1280"), (820, "ticket-page-tablet"), (390, "ticket-page-phone")):
        page.set_viewport_size({"width": width, "height": 1000})
        # Nothing sticks out sideways at a laptop's, a tablet's or a phone's width.
        assert page.evaluate(OVERFLOWING) == [], width
        expect(page.locator("#composer-body")).to_be_visible()
        screenshot(name)


# What sticks out past the right edge, so a failure names the culprit.
OVERFLOWING = """() => [...document.querySelectorAll("body *")]
    .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 1)
    .map((element) => `${element.tagName.toLowerCase()}.${element.className}`)
    .slice(0, 10)"""
