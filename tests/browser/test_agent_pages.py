"""An agent's first day, in a real browser: sign in, read the inbox, open a ticket, write a note."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.factories import (
    PASSWORD,
    CustomerFactory,
    MessageFactory,
    OrderFactory,
    OrderLineFactory,
    ShipmentFactory,
    StoreFactory,
    TicketFactory,
    UserFactory,
)
from tests.test_ticket_display import attach, solid_png
from tickets.models import Channel, Message, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def helpdesk(transactional_db) -> dict:
    """Data made with factories, not actions: actions publish live events through async_to_sync,
    which cannot run in this thread while Playwright's event loop lives in it."""
    agent = UserFactory(username="alice", role="agent")
    agent.first_name, agent.last_name = "Alice", "Martin"
    agent.save()
    store = StoreFactory(name="Cosy Mugs", slug="cosy-mugs")
    customer = CustomerFactory(name="Maria López", email="maria@example.org", language="es")
    order = OrderFactory(store=store, customer=customer, number="#1042", total=Decimal("49.90"))
    OrderLineFactory(order=order, title="Blue ceramic mug", quantity=2)
    ShipmentFactory(
        order=order,
        carrier="DHL",
        tracking_number="JD014600006281230",
        tracking_url="https://www.dhl.com/track?id=JD014600006281230",
    )
    broken = TicketFactory(
        store=store,
        customer=customer,
        subject="My mug arrived broken",
        status=Ticket.Status.OPEN,
        priority=Ticket.Priority.HIGH,
        assignee=agent,
    )
    broken.orders.add(order)
    MessageFactory(
        ticket=broken,
        body_text="The handle came off.",
        body_html="<p>The handle came off. <b>Photo attached.</b></p><script>alert(1)</script>",
    )
    MessageFactory(
        ticket=broken,
        direction=Message.Direction.OUTBOUND,
        author_type=Message.AuthorType.AGENT,
        author_user=agent,
        author_customer=None,
        body_text="Sorry to hear that, Maria! A new mug is on its way.",
        delivery_state=Message.DeliveryState.SENT,
    )
    pending = TicketFactory(
        store=store,
        channel=Channel.AMAZON,
        customer=CustomerFactory(name="John Smith"),
        subject="Invoice for order 123-1234567-1234567",
        status=Ticket.Status.PENDING,
    )
    TicketFactory(
        store=StoreFactory(name="Tea Corner", slug="tea-corner"),
        channel=Channel.WHATSAPP,
        subject="Do you ship to Romania?",
        status=Ticket.Status.NEW,
    )
    return {"agent": agent, "broken": broken, "pending": pending}


def sign_in(page) -> None:
    page.goto("/tickets/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/tickets/$"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/tickets/$"))


def test_agent_works_a_ticket_from_the_inbox(page, helpdesk, screenshot):
    sign_in(page)

    rows = page.locator("table.table--inbox tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator(".current-user")).to_contain_text("Alice Martin")
    screenshot("inbox")

    page.get_by_label("Status", exact=True).select_option("pending")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Invoice for order 123-1234567-1234567")
    expect(page.get_by_label("Status", exact=True)).to_have_value("pending")

    page.get_by_role("link", name="Clear filters").click()
    expect(rows).to_have_count(3)
    page.get_by_role("link", name="My mug arrived broken").click()
    expect(page).to_have_url(re.compile(rf"/tickets/{helpdesk['broken'].pk}/$"))

    conversation = page.locator("ol.conversation > li")
    expect(conversation).to_have_count(2)
    expect(conversation.nth(0)).to_have_class(re.compile(r"\bmsg--inbound\b"))
    expect(conversation.nth(1)).to_have_class(re.compile(r"\bmsg--outbound\b"))
    expect(conversation.nth(1)).to_contain_text("A new mug is on its way.")
    # The customer's HTML renders inside its sandboxed frame.
    expect(
        page.frame_locator("ol.conversation iframe").get_by_text("Photo attached.")
    ).to_be_visible()

    orders = page.locator("section.orders")
    expect(orders).to_contain_text("#1042")
    expect(orders).to_contain_text("Blue ceramic mug")
    expect(orders.get_by_role("link", name="JD014600006281230")).to_have_attribute(
        "href", "https://www.dhl.com/track?id=JD014600006281230"
    )
    expect(page.locator("section.customer")).to_contain_text("maria@example.org")

    page.get_by_label("Internal note").check()
    page.get_by_label("Message").fill("Refund approved, no need to return the mug.")
    page.get_by_role("button", name="Send").click()

    expect(page.locator(".flash")).to_contain_text("Internal note added.")
    expect(conversation).to_have_count(3)
    note = conversation.nth(2)
    expect(note).to_have_class(re.compile(r"\bmsg--note\b"))
    expect(note).to_contain_text("Refund approved, no need to return the mug.")
    expect(note).to_contain_text("Alice Martin")
    screenshot("ticket")

    page.locator("#ticket-status").select_option("solved")
    page.get_by_role("button", name="Update").click()
    expect(page.locator(".ticket-head")).to_contain_text("Solved")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))


def test_agent_switches_the_interface_to_spanish(page, helpdesk):
    sign_in(page)
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.locator("#language-select").select_option("es")
    page.get_by_role("button", name="Change language").click()

    expect(page).to_have_url(re.compile(r"/tickets/$"))
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator(".topnav").get_by_role("link", name="Bandeja de entrada", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Filtrar")).to_be_visible()
    # The choice sticks for the next page too.
    page.goto(f"/tickets/{helpdesk['broken'].pk}/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()


def test_hostile_message_does_not_run_in_the_browser(page, helpdesk):
    """Even if a message's HTML slipped past the sanitiser, the sandbox keeps its script out."""
    Message.objects.filter(ticket=helpdesk["broken"]).update(
        body_html='<p id="payload">Hello</p><img src=x onerror="parent.document.title=\'pwned\'">'
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page)

    page.goto(f"/tickets/{helpdesk['broken'].pk}/")

    expect(page.frame_locator("ol.conversation iframe").first.get_by_text("Hello")).to_be_visible()
    expect(page).not_to_have_title("pwned")
    assert dialogs == []


BANNER = "https://images.shop.invalid/spring-banner.png"


def test_remote_images_wait_until_the_agent_shows_them(
    page, helpdesk, settings, tmp_path, screenshot
):
    settings.MEDIA_ROOT = tmp_path
    ticket = helpdesk["broken"]
    newsletter = MessageFactory(
        ticket=ticket,
        body_text="Spring sale!",
        body_html=(
            f'<p>Spring sale at <b>Cosy Mugs</b>!</p><img src="{BANNER}" alt="Spring banner">'
            '<p>Signed, <img src="cid:logo@cosy.example" alt="Cosy logo"></p>'
        ),
    )
    attach(
        newsletter,
        filename="logo.png",
        content_type="image/png",
        data=solid_png(24, 24, (224, 177, 0)),
        content_id="logo@cosy.example",
    )
    # The "remote" server is answered here: tests reach nothing beyond loopback, and the list of
    # requests shows whether the tracking pixel was fetched before the agent asked.
    fetched: list[str] = []

    def serve_banner(route) -> None:
        fetched.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=solid_png(240, 60))

    page.route("https://images.shop.invalid/**", serve_banner)
    sign_in(page)

    page.goto(f"/tickets/{ticket.pk}/")
    item = page.locator(f"#message-{newsletter.pk}")
    frame = item.frame_locator("iframe")
    banner = frame.get_by_role("img", name="Spring banner")
    expect(item.locator(".msg__images-bar")).to_contain_text("Remote images are blocked.")
    expect(banner).to_have_attribute("data-blocked-src", BANNER)
    assert banner.get_attribute("src") is None
    # The inline (cid:) logo loads from the helpdesk itself, through the frame's policy.
    logo = frame.get_by_role("img", name="Cosy logo")
    expect(logo).to_have_attribute("src", re.compile(r"^/tickets/attachments/\d+/inline/[^/]+/$"))
    expect(logo).to_have_js_property("naturalWidth", 24)
    assert fetched == []
    screenshot("ticket-images-blocked")

    item.get_by_role("link", name="Show images").click()

    expect(page).to_have_url(re.compile(rf"\?images={newsletter.pk}#message-{newsletter.pk}$"))
    expect(banner).to_have_attribute("src", BANNER)
    expect(banner).to_have_js_property("naturalWidth", 240)
    assert fetched == [BANNER]
    expect(item.locator(".msg__images-bar")).to_have_count(0)
    screenshot("ticket-images-shown")


# Lists what sticks out past the right edge, so a failure names the culprit.
OVERFLOWING = """() => [...document.querySelectorAll("body *")]
    .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 1)
    .map((element) => `${element.tagName.toLowerCase()}.${element.className}`)
    .slice(0, 10)"""


def test_pages_fit_a_phone_screen(page, helpdesk, screenshot):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/login/")
    screenshot("login-phone")
    assert page.evaluate(OVERFLOWING) == []
    sign_in(page)
    page.wait_for_load_state("load")

    screenshot("inbox-phone")
    assert page.evaluate(OVERFLOWING) == []
    page.goto(f"/tickets/{helpdesk['broken'].pk}/")
    screenshot("ticket-phone")
    assert page.evaluate(OVERFLOWING) == []


# WCAG 2 contrast of every visible piece of text against the background it is drawn on (the
# nearest ancestor with an opaque background colour): at least 4.5:1, or 3:1 for large text
# (24 px, or 18.66 px bold). Text over images or gradients is not measured.
LOW_CONTRAST = """() => {
  const parse = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (element) => {
    for (let node = element; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.backgroundImage !== "none") return null;
      const [r, g, b, a = 1] = parse(style.backgroundColor);
      if (a >= 0.99) return [r, g, b];
    }
    return [255, 255, 255];
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    const element = text.parentElement;
    if (!text.textContent.trim() || !element || !element.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    if (element.closest("[disabled], [aria-disabled='true'], .bulk-bar:not(.has-selection)")) continue;
    const style = getComputedStyle(element);
    const back = background(element);
    if (!back) continue;
    const [r, g, b, a = 1] = parse(style.color);
    const fore = [r * a + back[0] * (1 - a), g * a + back[1] * (1 - a), b * a + back[2] * (1 - a)];
    const [light, dark] = [luminance(fore), luminance(back)].sort((x, y) => y - x);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      found.push(`${element.tagName.toLowerCase()}.${element.className} "${text.textContent.trim().slice(0, 40)}" ${ratio.toFixed(2)}`);
    }
  }
  return found;
}"""


def test_text_has_enough_contrast_on_the_inbox_and_the_ticket_page(page, helpdesk):
    sign_in(page)
    page.wait_for_load_state("load")
    low = page.evaluate(LOW_CONTRAST)
    assert not low, "\n".join(low)
    page.goto(f"/tickets/{helpdesk['broken'].pk}/")
    page.wait_for_load_state("load")
    low = page.evaluate(LOW_CONTRAST)
    assert not low, "\n".join(low)
