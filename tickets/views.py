"""The agents' server-rendered pages: the inbox and the ticket page.

Views stay thin: they read with a fixed number of queries, shape what the templates display, and
hand every state change to `tickets.actions`.
"""

from __future__ import annotations

import binascii
import re
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from channels_ingest.email.amazon import check_amazon_reply
from metrics.customer_value import lifetime_value
from tickets import actions, display
from tickets.delivery import reply_window
from tickets.models import (
    Attachment,
    Channel,
    ChannelIdentity,
    Customer,
    Language,
    Message,
    Order,
    Shipment,
    Ticket,
    TicketEvent,
)
from tickets.orders import address_lines, customer_other_orders
from tickets.roles import role_of
from tickets.sla import display as sla_display

# Rows per inbox page. A module constant so tests can lower it instead of creating hundreds of rows.
INBOX_PAGE_SIZE = 50


def helpdesk_role_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the login page; signed-in users without a helpdesk role get 403
    (they are someone, just not an agent, so sending them to log in again would loop)."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if role_of(request.user) is None:
            raise PermissionDenied(_("Your account has no helpdesk role."))
        return view(request, *args, **kwargs)

    return wrapped


# --- Keyset pagination ----------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A position in the inbox order (-updated_at, -id).

    Encoded opaquely in the URL: it is a position, not something to edit, and an ISO timestamp's
    "+" would need escaping anyway.
    """

    updated_at: datetime
    id: int

    @classmethod
    def of(cls, ticket: Ticket) -> Cursor:
        return cls(ticket.updated_at, ticket.pk)

    def encode(self) -> str:
        raw = f"{self.updated_at.isoformat()}|{self.id}".encode()
        return urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None) -> Cursor | None:
        """None for a missing or malformed cursor: the inbox then starts from the newest ticket."""
        if not token:
            return None
        try:
            raw = urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            stamp, separator, ident = raw.partition("|")
            when = datetime.fromisoformat(stamp)
            pk = int(ident)
            # Out of bigint range would be a database error, not an empty page.
            if not separator or timezone.is_naive(when) or not 0 < pk < 2**63:
                return None
            return cls(when, pk)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None


def _older_than(cursor: Cursor) -> Q:
    return Q(updated_at__lt=cursor.updated_at) | Q(updated_at=cursor.updated_at, pk__lt=cursor.id)


def _newer_than(cursor: Cursor) -> Q:
    return Q(updated_at__gt=cursor.updated_at) | Q(updated_at=cursor.updated_at, pk__gt=cursor.id)


@dataclass(frozen=True)
class KeysetPage:
    items: list[Ticket]
    next_cursor: Cursor | None
    previous_cursor: Cursor | None


def paginate_newest_first(
    queryset: QuerySet[Ticket], *, after: Cursor | None, before: Cursor | None, size: int
) -> KeysetPage:
    """One page of tickets ordered by (-updated_at, -id), starting just past a cursor.

    `after` walks towards older tickets, `before` back towards newer ones. Each page is a range
    scan on the ticket_updated index whatever its depth, where OFFSET would read and discard every
    earlier row; and a ticket updated meanwhile moves to the top instead of shifting every page.
    """
    newest_first = queryset.order_by("-updated_at", "-id")
    if before is not None:
        rows = list(queryset.filter(_newer_than(before)).order_by("updated_at", "id")[: size + 1])
        has_newer = len(rows) > size
        items = rows[:size][::-1]
        has_older = bool(items) and newest_first.filter(_older_than(Cursor.of(items[-1]))).exists()
    else:
        scoped = newest_first.filter(_older_than(after)) if after is not None else newest_first
        rows = list(scoped[: size + 1])
        has_older = len(rows) > size
        items = rows[:size]
        has_newer = (
            after is not None
            and bool(items)
            and newest_first.filter(_newer_than(Cursor.of(items[0]))).exists()
        )
    return KeysetPage(
        items=items,
        next_cursor=Cursor.of(items[-1]) if has_older else None,
        previous_cursor=Cursor.of(items[0]) if has_newer else None,
    )


# --- Inbox ----------------------------------------------------------------------------------


class InboxFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("All statuses")), *Ticket.Status.choices],
        widget=forms.Select(attrs={"class": "select"}),
    )
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        required=False,
        choices=[("", gettext_lazy("All channels")), *Channel.choices],
        widget=forms.Select(attrs={"class": "select"}),
    )
    sla = forms.ChoiceField(
        label=gettext_lazy("SLA"),
        required=False,
        choices=[("", gettext_lazy("Any SLA state")), *sla_display.INBOX_FILTERS],
        widget=forms.Select(attrs={"class": "select"}),
    )


def _inbox_url(filters: dict[str, str], **cursor: str) -> str:
    """The inbox URL keeping the active filters, so paging never drops them."""
    params = {name: value for name, value in filters.items() if value}
    params.update(cursor)
    query = urlencode(params)
    return reverse("tickets:inbox") + (f"?{query}" if query else "")


@require_GET
@helpdesk_role_required
def inbox(request: HttpRequest) -> HttpResponse:
    form = InboxFilterForm(request.GET)
    # An unknown value (an old bookmark, a hand-edited URL) drops that one filter rather than
    # failing: cleaned_data keeps the fields that did validate.
    form.is_valid()
    filters = {name: value for name, value in form.cleaned_data.items() if value}

    tickets = Ticket.objects.visible_to(request.user).select_related(
        "customer", "store", "assignee"
    )
    if "status" in filters:
        tickets = tickets.filter(status=filters["status"])
    if "channel" in filters:
        tickets = tickets.filter(channel=filters["channel"])
    if "sla" in filters:
        tickets = tickets.filter(sla_display.inbox_filter(filters["sla"]))

    after = Cursor.decode(request.GET.get("after"))
    before = None if after else Cursor.decode(request.GET.get("before"))
    page = paginate_newest_first(tickets, after=after, before=before, size=INBOX_PAGE_SIZE)

    context = {
        "nav": "inbox",
        "form": form,
        "tickets": page.items,
        "sla_deadlines": sla_display.nearest_deadlines(page.items),
        "is_filtered": bool(filters),
        "clear_url": reverse("tickets:inbox"),
        "next_url": _inbox_url(filters, after=page.next_cursor.encode())
        if page.next_cursor
        else "",
        "previous_url": _inbox_url(filters, before=page.previous_cursor.encode())
        if page.previous_cursor
        else "",
        "newest_url": _inbox_url(filters) if (after or before) else "",
    }
    return render(request, "tickets/inbox.html", context)


# --- Ticket page ----------------------------------------------------------------------------


class ReplyForm(forms.Form):
    KIND_REPLY = Message.Direction.OUTBOUND
    KIND_NOTE = Message.Direction.NOTE

    kind = forms.ChoiceField(
        label=gettext_lazy("Type"),
        choices=[
            (KIND_REPLY, gettext_lazy("Reply to the customer")),
            (KIND_NOTE, gettext_lazy("Internal note")),
        ],
        initial=KIND_REPLY,
        widget=forms.RadioSelect,
    )
    body = forms.CharField(
        label=gettext_lazy("Message"),
        max_length=20000,
        strip=True,
        widget=forms.Textarea(
            attrs={
                "rows": 5,
                "class": "textarea",
                "placeholder": gettext_lazy("Write your message…"),
            }
        ),
    )
    # Only offered once Amazon's guidelines check has found something: the agent then decides.
    confirm_amazon_rules = forms.BooleanField(label=gettext_lazy("Send anyway"), required=False)


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        choices=Ticket.Status.choices,
        widget=forms.Select(attrs={"class": "select"}),
    )


_BLOCK_TAG = re.compile(r"<(?:br|p|div|li|tr|h[1-6]|blockquote|img)\b", re.IGNORECASE)


def _frame_height_rem(body_html: str, shown_images: int) -> int:
    """A first guess at the iframe's height (it cannot size itself without scripts); the frame's
    wrapper can be resized by the agent. An image that loads counts as a few lines of text."""
    lines = len(_BLOCK_TAG.findall(body_html)) + len(strip_tags(body_html)) // 90 + 3 * shown_images
    return max(5, min(32, 3 + int(lines * 1.5)))


def _person_name(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def _author_label(message: Message, ticket: Ticket) -> str:
    if message.author_type == Message.AuthorType.CUSTOMER:
        return str(message.author_customer or ticket.customer)
    if message.author_user is not None:
        return _person_name(message.author_user)
    return str(Message.AuthorType(message.author_type).label)


@dataclass(frozen=True)
class ConversationEntry:
    message: Message
    author: str
    frame_document: str
    frame_height_rem: int
    blocked_images: int
    show_images_url: str
    visible_text: str  # the new part of a plain-text message, "" when nothing is folded away
    auto_reply: display.AutoReplyLabel | None
    shows_delivery: bool
    is_undelivered: bool
    attachments: list[Attachment]


@dataclass(frozen=True)
class ShipmentView:
    shipment: Shipment
    tracking_href: str


@dataclass(frozen=True)
class OrderView:
    order: Order
    lines: list
    shipments: list[ShipmentView]
    refunds: list = ()
    actions: tuple[str, ...] = ()  # order actions the shop allows from here (tickets.order_actions)
    shipping_address: list[str] = ()


def _http_url(url: str) -> str:
    """The URL if it is http(s), else "": tracking links come from marketplaces' payloads, and a
    javascript: link must never become clickable in an agent's session."""
    return url if urlsplit(url).scheme in ("http", "https") else ""


def _images_shown(request: HttpRequest) -> frozenset[int]:
    """Ids of the messages whose remote images the agent chose to see (`?images=12,15`); anything
    that is not an id is ignored, so a hand-edited URL shows fewer images, never an error."""
    parts = request.GET.get("images", "").split(",")
    return frozenset(int(part) for part in parts if re.fullmatch(r"[0-9]{1,18}", part.strip()))


def _show_images_url(detail_url: str, shown: frozenset[int], message_id: int) -> str:
    ids = ",".join(str(pk) for pk in sorted(shown | {message_id}))
    return f"{detail_url}?images={ids}#message-{message_id}"


def _conversation(
    ticket: Ticket, *, origin: str, detail_url: str, images_shown: frozenset[int]
) -> list[ConversationEntry]:
    rows = (
        ticket.messages.select_related("author_user", "author_customer")
        .prefetch_related("attachments")
        .order_by("created_at", "pk")
    )
    entries = []
    for message in rows:
        attachments = list(message.attachments.all())
        frame = (
            display.frame_document(
                message.body_html,
                origin=origin,
                inline_urls=display.inline_images(attachments),
                show_remote=message.pk in images_shown,
            )
            if message.body_html
            else display.MessageHtml("", 0)
        )
        outbound = message.direction == Message.Direction.OUTBOUND
        entries.append(
            ConversationEntry(
                message=message,
                author=_author_label(message, ticket),
                frame_document=frame.html,
                frame_height_rem=_frame_height_rem(message.body_html, frame.shown_images)
                if message.body_html
                else 0,
                blocked_images=frame.blocked_images,
                show_images_url=_show_images_url(detail_url, images_shown, message.pk)
                if frame.blocked_images
                else "",
                visible_text="" if message.body_html else display.folded_text(message),
                auto_reply=display.auto_reply_label(message),
                shows_delivery=outbound,
                is_undelivered=outbound and message.delivery_state == Message.DeliveryState.FAILED,
                attachments=attachments,
            )
        )
    return entries


def _orders(ticket: Ticket) -> list[OrderView]:
    from tickets.order_actions import available_actions

    rows = (
        ticket.orders.select_related("store", "channel_account")
        .prefetch_related("lines", "shipments", "refunds")
        .order_by("-placed_at", "-pk")
    )
    return [
        OrderView(
            order=order,
            lines=list(order.lines.all()),
            shipments=[ShipmentView(s, _http_url(s.tracking_url)) for s in order.shipments.all()],
            refunds=list(order.refunds.all()),
            actions=available_actions(order),
            shipping_address=address_lines(order.shipping_address),
        )
        for order in rows
    ]


def _language_label(code: str) -> str:
    try:
        return str(Language(code).label)
    except ValueError:
        return code


def _ticket_or_404(request: HttpRequest, pk: int) -> Ticket:
    return get_object_or_404(
        Ticket.objects.visible_to(request.user).select_related(
            "store", "assignee", "team", "channel_account", "merged_into", "customer__merged_into"
        ),
        pk=pk,
    )


def _render_ticket(
    request: HttpRequest,
    ticket: Ticket,
    *,
    reply_form: ReplyForm | None = None,
    status_form: StatusForm | None = None,
    amazon_warnings: list[str] | None = None,
    pending_order_action: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    customer: Customer = ticket.customer
    identities = (
        ChannelIdentity.objects.filter(customer=customer)
        .select_related("account")
        .order_by("kind", "value")
    )
    detail_url = reverse("tickets:detail", args=[ticket.pk])
    context = {
        "nav": "inbox",
        "ticket": ticket,
        "conversation": _conversation(
            ticket,
            # The frame's policy names this origin for inline images (see tickets.display).
            origin=f"{request.scheme}://{request.get_host()}",
            detail_url=detail_url,
            images_shown=_images_shown(request),
        ),
        "customer": customer,
        "customer_language": _language_label(customer.language),
        "customer_value": lifetime_value(customer),
        "identities": list(identities),
        "orders": (orders := _orders(ticket)),
        # The customer's other orders; an order action awaiting the agent's confirmation.
        "customer_orders": customer_other_orders(customer, exclude=[item.order.pk for item in orders]),
        "pending_order_action": pending_order_action,
        "order_action_events": list(
            ticket.events.filter(kind=TicketEvent.Kind.ORDER_ACTION).order_by("-created_at")[:10]
        ),
        "reply_form": reply_form or ReplyForm(),
        "status_form": status_form or StatusForm(initial={"status": ticket.status}),
        "reply_url": reverse("tickets:reply", args=[ticket.pk]),
        "is_amazon": ticket.channel == Channel.AMAZON,
        "amazon_warnings": amazon_warnings or [],
        # Messenger, Instagram and WhatsApp: until when a free-form reply is allowed.
        "reply_window": reply_window(ticket),
        "status_url": reverse("tickets:change_status", args=[ticket.pk]),
        # After a rejected POST the address bar shows the POST URL; switching language must come
        # back to the ticket, not to a URL that only accepts POST.
        "language_next": detail_url,
    }
    return render(request, "tickets/detail.html", context, status=status)


@require_GET
@helpdesk_role_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_ticket(request, _ticket_or_404(request, pk))


@require_POST
@helpdesk_role_required
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket_or_404(request, pk)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _render_ticket(request, ticket, reply_form=form, status=400)
    warnings = _amazon_reply_warnings(ticket, form)
    if warnings:
        # Nothing is sent: Amazon would refuse or flag the reply, and a flagged account can lose
        # its messaging rights. The page comes back with the text kept and a "Send anyway" box.
        return _render_ticket(request, ticket, reply_form=form, amazon_warnings=warnings)
    message = actions.add_message(
        ticket=ticket,
        direction=form.cleaned_data["kind"],
        body_text=form.cleaned_data["body"],
        author_user=request.user,
    )
    if message.direction == Message.Direction.NOTE:
        messages.success(request, _("Internal note added."))
    else:
        messages.success(request, _("Reply queued for sending."))
    return redirect(f"{reverse('tickets:detail', args=[ticket.pk])}#message-{message.pk}")


def _amazon_reply_warnings(ticket: Ticket, form: ReplyForm) -> list[str]:
    """What Amazon's buyer-seller messaging guidelines would object to in a valid reply form; []
    when the ticket is not an Amazon one, for internal notes (they never reach the buyer), and once
    the agent has ticked "Send anyway"."""
    if ticket.channel != Channel.AMAZON or form.cleaned_data["confirm_amazon_rules"]:
        return []
    if form.cleaned_data["kind"] != ReplyForm.KIND_REPLY:
        return []
    # The composer has no attachments yet; once it does, their names, types and size go here.
    return check_amazon_reply(form.cleaned_data["body"], [], total_bytes=0)


@require_POST
@helpdesk_role_required
def change_status(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket_or_404(request, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _render_ticket(request, ticket, status_form=form, status=400)
    before = ticket.status
    ticket = actions.change_status(
        ticket=ticket, status=form.cleaned_data["status"], actor=request.user
    )
    if ticket.status != before:
        messages.success(
            request,
            _("Status changed to %(status)s.") % {"status": Ticket.Status(ticket.status).label},
        )
    return redirect("tickets:detail", pk=ticket.pk)


def _inline_image_response(attachment: Attachment, image_type: str) -> FileResponse:
    """An image attachment served to be shown, never run: the content type is one of our own list
    (never the sender's string), and nosniff stops the browser from guessing another."""
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError) as error:
        raise Http404 from error
    response = FileResponse(
        handle, as_attachment=False, filename=attachment.filename, content_type=image_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Stored attachments never change; private, since they are customers' documents.
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@helpdesk_role_required
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """Attachments are served through this check, never straight from MEDIA_URL: they are the
    customers' documents.

    As a download, so a hostile HTML or SVG file never renders here; `?inline=1` shows a raster
    image in the browser instead, and anything else asked for inline is still a download.
    """
    attachment = get_object_or_404(Attachment.objects.select_related("message__ticket"), pk=pk)
    if not Ticket.objects.visible_to(request.user).filter(pk=attachment.message.ticket_id).exists():
        raise Http404
    image_type = display.inline_image_type(attachment.content_type)
    if request.GET.get("inline") and image_type:
        return _inline_image_response(attachment, image_type)
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError) as error:
        raise Http404 from error
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def attachment_inline(request: HttpRequest, pk: int, token: str) -> FileResponse:
    """An inline (cid:) image of a message, for the message's sandboxed frame.

    No session check: the frame's requests are cross-site to the browser and arrive without the
    session cookie. The signed token stands in for it (see `tickets.display.inline_image_url`):
    only a page rendered for an agent carries one. Raster images only; anything else is 404.
    """
    if not display.is_valid_inline_token(pk, token):
        raise Http404
    attachment = get_object_or_404(Attachment, pk=pk)
    image_type = display.inline_image_type(attachment.content_type)
    if not image_type:
        raise Http404
    return _inline_image_response(attachment, image_type)
