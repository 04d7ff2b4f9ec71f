"""How the ticket page shows email: remote images held back, inline images served safely, quoted
history folded, automatic replies and failed deliveries labelled; and the Amazon reply guard."""

from __future__ import annotations

import html
import re
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.urls import reverse

from tests.factories import MessageFactory, TicketFactory
from tickets import display
from tickets.models import Attachment, Channel, Message, Ticket

pytestmark = pytest.mark.django_db

NOON = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
TRACKER = "https://tracker.example/open.gif?u=42&c=7"


def solid_png(width: int = 4, height: int = 4, rgb: tuple[int, int, int] = (47, 91, 211)) -> bytes:
    """A valid PNG of one colour, made with zlib alone (no imaging library in the test deps)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def frame_of(body: str, message: Message) -> str:
    """The unescaped srcdoc of a message's iframe: the document the sandbox renders."""
    item = body[body.index(f'id="message-{message.pk}"') :]
    item = item[: item.index("</li>")]
    return html.unescape(re.search(r'srcdoc="([^"]*)"', item).group(1))


def message_item(body: str, message: Message) -> str:
    start = body.index(f'id="message-{message.pk}"')
    following = body.find('<li id="message-', start + 1)
    return body[start : following if following != -1 else body.index("</ol>", start)]


def image_policy(document: str) -> str:
    return re.search(r"img-src ([^;]*);", document).group(1)


def page(client, ticket: Ticket, **params: str) -> str:
    response = client.get(reverse("tickets:detail", args=[ticket.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def attach(
    message: Message, *, filename: str, content_type: str, data: bytes, content_id: str = ""
) -> Attachment:
    attachment = Attachment(
        message=message,
        filename=filename,
        content_type=content_type,
        size=len(data),
        content_id=content_id,
    )
    attachment.file.save(filename, ContentFile(data), save=True)
    return attachment


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path


# --- Remote images ------------------------------------------------------------------------------


def test_remote_images_are_blocked_and_kept_aside_by_default(client, alice):
    message = MessageFactory(
        body_html=f'<p>Our sale!</p><img src="{html.escape(TRACKER)}" width="1" height="1" alt="">'
    )
    client.force_login(alice)

    body = page(client, message.ticket)
    document = frame_of(body, message)

    assert (
        '<img width="1" height="1" alt="" '
        'data-blocked-src="https://tracker.example/open.gif?u=42&amp;c=7">' in document
    )
    assert not re.search(r'\ssrc="https://tracker', document)
    assert image_policy(document) == "http://testserver"
    assert "Remote images are blocked." in body
    show = f"/tickets/{message.ticket_id}/?images={message.pk}#message-{message.pk}"
    assert f'href="{show}"' in body


def test_show_images_reveals_them_for_that_message_only(client, alice):
    ticket = TicketFactory()
    first = MessageFactory(ticket=ticket, body_html='<img src="https://shop.example/banner.png">')
    second = MessageFactory(ticket=ticket, body_html='<img src="http://shop.example/plain.png">')
    client.force_login(alice)

    body = page(client, ticket, images=str(first.pk))

    shown = frame_of(body, first)
    assert '<img src="https://shop.example/banner.png">' in shown
    assert "data-blocked-src=" not in shown
    assert image_policy(shown) == "http://testserver https:"
    still_blocked = frame_of(body, second)
    assert '<img data-blocked-src="http://shop.example/plain.png">' in still_blocked
    assert image_policy(still_blocked) == "http://testserver"
    assert "Remote images are blocked." not in message_item(body, first)
    # The second message's button keeps the first one's images shown.
    assert f'href="/tickets/{ticket.pk}/?images={first.pk},{second.pk}#message-{second.pk}"' in body


def test_shown_plain_http_images_are_upgraded_to_https(client, alice):
    message = MessageFactory(body_html='<img src="http://shop.example/plain.png" alt="Logo">')
    client.force_login(alice)

    document = frame_of(page(client, message.ticket, images=str(message.pk)), message)

    assert '<img src="https://shop.example/plain.png" alt="Logo">' in document


def test_relative_image_paths_never_reach_the_helpdesk(client, alice):
    # A relative src would resolve against the helpdesk and send a request with the session.
    message = MessageFactory(body_html='<p>x</p><img src="/logout/" alt="a">')
    client.force_login(alice)

    body = page(client, message.ticket, images=str(message.pk))

    assert '<img alt="a">' in frame_of(body, message)
    assert "/logout/" not in frame_of(body, message)


def test_a_bad_images_parameter_shows_nothing_and_does_not_fail(client, alice):
    message = MessageFactory(body_html=f'<img src="{html.escape(TRACKER)}">')
    client.force_login(alice)

    body = page(client, message.ticket, images="abc,²,99999999999999999999999")

    assert f'data-blocked-src="{html.escape(TRACKER)}"' in frame_of(body, message)


# --- Inline (cid:) images -----------------------------------------------------------------------


INLINE_URL = re.compile(
    r'<img src="(/tickets/attachments/(\d+)/inline/([^/"]+)/)" alt="Broken mug">'
)


def test_cid_images_point_at_the_signed_inline_url(client, alice):
    message = MessageFactory(
        body_html='<p>Photo:</p><img src="cid:photo.1@mail.example" alt="Broken mug">'
    )
    image = attach(
        message,
        filename="mug.png",
        content_type="image/png",
        data=solid_png(),
        content_id="photo.1@mail.example",
    )
    client.force_login(alice)

    body = page(client, message.ticket)
    url, attachment_id, _token = INLINE_URL.search(frame_of(body, message)).groups()

    assert int(attachment_id) == image.pk
    assert "Remote images are blocked." not in body
    # The frame's requests are cross-site to the browser and carry no session cookie: the signed
    # URL alone must be enough.
    client.logout()
    served = client.get(url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["Content-Disposition"] == 'inline; filename="mug.png"'
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Cache-Control"] == "private, max-age=3600"
    assert b"".join(served.streaming_content) == solid_png()


def test_signed_inline_url_works_for_one_attachment_and_expires(client, alice):
    message = MessageFactory(body_html='<img src="cid:a" alt="Broken mug"><img src="cid:b">')
    first = attach(message, filename="a.png", content_type="image/png", data=b"A", content_id="a")
    other = attach(message, filename="b.png", content_type="image/png", data=b"B", content_id="b")
    client.force_login(alice)
    with time_machine.travel(NOON, tick=False):
        url, _pk, token = INLINE_URL.search(
            frame_of(page(client, message.ticket), message)
        ).groups()
    # Within the hour the page renders the same URL, so the browser's cache serves it again.
    with time_machine.travel(NOON + timedelta(minutes=40), tick=False):
        assert INLINE_URL.search(frame_of(page(client, message.ticket), message)).group(1) == url
    client.logout()

    def fetch(pk: int, token: str) -> int:
        return client.get(reverse("tickets:attachment_inline", args=[pk, token])).status_code

    with time_machine.travel(NOON + timedelta(hours=11, minutes=30), tick=False):
        assert fetch(first.pk, token) == 200
        assert fetch(other.pk, token) == 404
        assert fetch(first.pk, token[:-2] + "xx") == 404
        assert fetch(first.pk, "nonsense") == 404
    with time_machine.travel(NOON + timedelta(hours=13), tick=False):
        assert fetch(first.pk, token) == 404


def test_session_inline_mode_serves_images_to_agents(client, alice, mallory):
    message = MessageFactory()
    image = attach(
        message, filename="a.png", content_type="image/png", data=solid_png(), content_id="a"
    )
    url = reverse("tickets:attachment", args=[image.pk])

    assert client.get(url, {"inline": "1"}).status_code == 302
    client.force_login(mallory)
    assert client.get(url, {"inline": "1"}).status_code == 403
    client.force_login(alice)
    served = client.get(url, {"inline": "1"})
    assert served["Content-Disposition"] == 'inline; filename="a.png"'
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"


def test_cid_reference_that_is_url_encoded_still_matches(client, alice):
    message = MessageFactory(body_html='<img src="cid:logo%40shop.example" alt="Broken mug">')
    image = attach(
        message,
        filename="logo.gif",
        content_type="image/gif",
        data=b"GIF89a",
        content_id="logo@shop.example",
    )
    client.force_login(alice)

    document = frame_of(page(client, message.ticket), message)

    assert int(INLINE_URL.search(document).group(2)) == image.pk


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("invoice.pdf", "application/pdf"),
        ("page.html", "text/html"),
        ("logo.svg", "image/svg+xml"),
        ("logo.svg", "IMAGE/SVG+XML; charset=utf-8"),
    ],
)
def test_inline_is_refused_to_anything_but_a_raster_image(client, alice, filename, content_type):
    message = MessageFactory(body_html='<img src="cid:part1" alt="x">')
    attachment = attach(
        message,
        filename=filename,
        content_type=content_type,
        data=b"<svg onload=alert(1)>",
        content_id="part1",
    )
    client.force_login(alice)

    document = frame_of(page(client, message.ticket), message)
    served = client.get(reverse("tickets:attachment", args=[attachment.pk]), {"inline": "1"})
    # Even a correctly signed URL never serves it inline.
    signed = client.get(display.inline_image_url(attachment))

    assert '<img alt="x">' in document
    assert "/inline/" not in document
    assert served.status_code == 200
    assert served["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert served["Content-Type"] == "application/octet-stream"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert signed.status_code == 404


# --- Quoted history -----------------------------------------------------------------------------


QUOTED = "Thanks, that works!\n\nOn Mon, 3 Mar 2025, Cosy Mugs wrote:\n> Could you try again?"


def test_quoted_history_is_folded_behind_a_toggle(client, alice):
    message = MessageFactory(body_text=QUOTED, visible_text="Thanks, that works!")
    client.force_login(alice)

    item = message_item(page(client, message.ticket), message)

    visible = item.index('<div class="msg__text msg__visible">Thanks, that works!</div>')
    toggle = item.index('<details class="msg__quoted">')
    assert visible < toggle
    assert "Show quoted text" in item
    assert "&gt; Could you try again?" in item[toggle:]
    assert "Could you try again?" not in item[:toggle]


@pytest.mark.parametrize("visible_text", ["", QUOTED, f"  {QUOTED}\n"])
def test_no_toggle_when_nothing_is_quoted(client, alice, visible_text):
    message = MessageFactory(body_text=QUOTED, visible_text=visible_text)
    client.force_login(alice)

    item = message_item(page(client, message.ticket), message)

    assert "<details" not in item
    assert "&gt; Could you try again?" in item


def test_html_messages_keep_their_frame_without_a_toggle(client, alice):
    message = MessageFactory(
        body_text=QUOTED, visible_text="Thanks, that works!", body_html="<p>Thanks, that works!</p>"
    )
    client.force_login(alice)

    item = message_item(page(client, message.ticket), message)

    assert "<iframe " in item
    assert "<details" not in item


# --- Automatic replies, bounces, failed deliveries ----------------------------------------------


def test_automatic_reply_has_a_badge_and_a_muted_style(client, alice):
    message = MessageFactory(
        body_text="I am out of the office until Monday.",
        is_auto_reply=True,
        metadata={"auto_reply_reason": "auto_submitted"},
    )
    client.force_login(alice)

    item = message_item(page(client, message.ticket), message)

    assert 'class="msg msg--inbound msg--auto"' in item
    assert '<span class="badge badge--auto">Automatic reply</span>' in item


def test_bounce_shows_the_recipient_and_the_diagnostic(client, alice):
    message = MessageFactory(
        body_text="Delivery has failed to these recipients.",
        is_auto_reply=True,
        metadata={
            "auto_reply_reason": "bounce",
            "bounce": {
                "recipient": "maria@example.org",
                "status": "5.1.1",
                "diagnostic": "550 5.1.1 <maria@example.org>: user unknown",
            },
        },
    )
    client.force_login(alice)

    item = message_item(page(client, message.ticket), message)

    assert '<span class="badge badge--auto badge--bounce">Bounce</span>' in item
    assert "Could not deliver to</dt><dd>maria@example.org</dd>" in item
    assert "550 5.1.1 &lt;maria@example.org&gt;: user unknown" in item


def test_people_messages_have_no_automatic_badge(client, alice):
    message = MessageFactory()
    client.force_login(alice)

    item = message_item(page(client, message.ticket), message)

    assert "badge--auto" not in item
    assert "msg--auto" not in item


def test_failed_delivery_shows_not_delivered_and_the_reason(client, alice):
    message = MessageFactory(
        direction=Message.Direction.OUTBOUND,
        author_type=Message.AuthorType.AGENT,
        author_user=alice,
        author_customer=None,
        body_text="Your refund is on its way.",
        delivery_state=Message.DeliveryState.FAILED,
        failure_reason="550 5.1.1 The email account does not exist.",
    )
    client.force_login(alice)

    item = message_item(page(client, message.ticket), message)

    assert "msg--failed" in item
    assert (
        '<p class="msg__failure"><strong>Not delivered</strong>'
        '<span class="msg__failure-reason">550 5.1.1 The email account does not exist.</span></p>'
    ) in item
    assert 'class="badge badge--delivery dl-failed"' in item


# --- Amazon replies -----------------------------------------------------------------------------


@pytest.fixture
def amazon_ticket(db) -> Ticket:
    return TicketFactory(channel=Channel.AMAZON, marketplace="amazon.es", status=Ticket.Status.OPEN)


def reply(client, ticket: Ticket, **data: str):
    return client.post(reverse("tickets:reply", args=[ticket.pk]), {"kind": "outbound", **data})


def test_amazon_ticket_shows_its_marketplace_and_the_rules(client, alice, amazon_ticket):
    client.force_login(alice)

    body = page(client, amazon_ticket)

    assert '<dd class="ticket-marketplace">amazon.es</dd>' in body
    assert (
        "Amazon buyer messages: no links, email addresses or phone numbers; "
        "replies go to the buyer through Amazon."
    ) in body
    assert 'name="confirm_amazon_rules"' not in body


def test_other_tickets_have_no_amazon_hint(client, alice):
    ticket = TicketFactory(channel=Channel.EMAIL)
    client.force_login(alice)

    body = page(client, ticket)

    assert "Amazon buyer messages" not in body
    assert "ticket-marketplace" not in body


def test_amazon_reply_with_a_link_is_held_back_with_the_warning(client, alice, amazon_ticket):
    client.force_login(alice)
    text = "Please fill in https://shop.example/returns and we refund you."

    response = reply(client, amazon_ticket, body=text)

    assert response.status_code == 200
    assert not Message.objects.exists()
    body = response.content.decode()
    assert "Not sent: Amazon would refuse or flag this reply." in body
    assert (
        "<li>Amazon does not allow links outside Amazon in messages to buyers: "
        "https://shop.example/returns</li>"
    ) in body
    assert f">\n{text}</textarea>" in body
    assert '<input type="checkbox" name="confirm_amazon_rules"' in body
    assert "Send anyway" in body
    assert '<input type="radio" name="kind" value="outbound"' in body
    assert re.search(r'value="outbound"[^>]*checked', body)


def test_amazon_reply_with_send_anyway_is_queued(client, alice, amazon_ticket):
    client.force_login(alice)

    response = reply(
        client, amazon_ticket, body="Write to help@shop.example please.", confirm_amazon_rules="on"
    )

    message = Message.objects.get(ticket=amazon_ticket)
    assert response.status_code == 302
    assert response["Location"] == f"/tickets/{amazon_ticket.pk}/#message-{message.pk}"
    assert message.direction == Message.Direction.OUTBOUND
    assert message.delivery_state == Message.DeliveryState.QUEUED
    assert message.body_text == "Write to help@shop.example please."


def test_amazon_reply_within_the_rules_is_sent_at_once(client, alice, amazon_ticket):
    client.force_login(alice)

    response = reply(client, amazon_ticket, body="Your order 171-1234567-1234567 left today.")

    assert response.status_code == 302
    assert Message.objects.get(ticket=amazon_ticket).delivery_state == Message.DeliveryState.QUEUED


def test_notes_on_amazon_tickets_are_not_checked(client, alice, amazon_ticket):
    client.force_login(alice)

    response = client.post(
        reverse("tickets:reply", args=[amazon_ticket.pk]),
        {"kind": "note", "body": "Buyer called on +34 600 111 222, see https://crm.example/42"},
    )

    assert response.status_code == 302
    assert Message.objects.get(ticket=amazon_ticket).direction == Message.Direction.NOTE


def test_replies_on_other_channels_are_not_checked(client, alice):
    ticket = TicketFactory(channel=Channel.EMAIL)
    client.force_login(alice)

    response = reply(client, ticket, body="Track it at https://shop.example/track/42")

    assert response.status_code == 302
    assert Message.objects.get(ticket=ticket).direction == Message.Direction.OUTBOUND
