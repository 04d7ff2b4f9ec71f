"""The agents' server-rendered pages: the ticket page (the inbox lives in tickets.inbox), its reply
and status forms, and the attachment downloads.

Views stay thin: they read with a fixed number of queries, shape what the templates display, and
hand every state change to `tickets.actions`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from tickets import actions, composer, display, ticket_page
from tickets.access import visible_store_ids
from tickets.canned import PLACEHOLDERS
from tickets.composer import ComposerForm
from tickets.mentions import helpdesk_users
from tickets.models import (
    Attachment,
    Channel,
    ChannelIdentity,
    Message,
    Order,
    Shipment,
    Tag,
    Team,
    Ticket,
    TicketEvent,
    TicketLink,
)
from tickets.orders import address_lines, order_panel
from tickets.roles import role_of


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


# --- Ticket page ----------------------------------------------------------------------------
#
# The page's data is read by `tickets.ticket_page` (conversation, customer panel, timeline, links)
# and `tickets.composer` (reply options, checks); its action forms live in `tickets.ticket_views`.


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        choices=Ticket.Status.choices,
        widget=forms.Select(attrs={"class": "select", "id": "ticket-status"}),
    )


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


def _ticket_or_404(request: HttpRequest, pk: int) -> Ticket:
    return get_object_or_404(
        Ticket.objects.visible_to(request.user).select_related(
            "store", "assignee", "team", "channel_account", "merged_into", "customer__merged_into"
        ),
        pk=pk,
    )


def inbox_origin(request: HttpRequest) -> str:
    """The inbox view the agent came from (`from`, the inbox's query string), from the page's
    address or from a form posted on it."""
    return (request.POST.get("from") or request.GET.get("from") or "")[:2000]


def ticket_url(pk: int, origin: str = "", anchor: str = "") -> str:
    """The ticket page's address, keeping the inbox view the agent came from."""
    query = f"?{urlencode({'from': origin})}" if origin else ""
    return reverse("tickets:detail", args=[pk]) + query + (f"#{anchor}" if anchor else "")


def _neighbour_urls(request: HttpRequest, ticket: Ticket) -> dict[str, str]:
    """Links to the previous and next tickets of the inbox view the agent came from (`?from=`, the
    inbox's query string, carried from ticket to ticket); "" at either end or without a view."""
    origin = inbox_origin(request)
    try:
        from tickets.inbox.queries import neighbours
    except ImportError:
        return {"previous": "", "next": ""}
    previous, following = neighbours(request.user, QueryDict(origin), ticket)

    def url(item: Any) -> str:
        return ticket_url(getattr(item, "pk", item), origin) if item else ""

    return {"previous": url(previous), "next": url(following)}


def _int_param(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if re.fullmatch(r"[0-9]{1,18}", raw) else None


def _render_ticket(
    request: HttpRequest,
    ticket: Ticket,
    *,
    reply_form: ComposerForm | None = None,
    status_form: StatusForm | None = None,
    amazon_warnings: list[str] | None = None,
    pending_order_action: dict | None = None,
    composer_result: composer.ComposerResult | None = None,
    action_error: str = "",
    status: int = 200,
) -> HttpResponse:
    detail_url = reverse("tickets:detail", args=[ticket.pk])
    panel = ticket_page.customer_panel(ticket, request.user)
    options = composer.send_options(ticket, panel.identities)
    form = reply_form or ComposerForm(
        options=options, initial={"last_seen_message_id": ticket_page.last_message_id(ticket)}
    )
    chosen = form.option if form.is_bound and form.is_valid() else options[0]
    canned_id = _int_param(request, "canned")
    canned_preview = composer.canned_preview(ticket, canned_id, request.user) if canned_id else None
    if canned_preview and not form.is_bound:
        form.initial["body"] = canned_preview[1]
    # The order panel: linked orders with lines, shipments and refunds, and the customer's other
    # orders, in two indexed queries (tickets.orders.order_panel).
    order_view = order_panel(ticket, store_ids=visible_store_ids(request.user))
    orders = order_view.linked
    context = {
        "nav": "inbox",
        "ticket": ticket,
        "detail_url": detail_url,
        "split_url_prefix": detail_url + "messages/",
        "conversation": ticket_page.conversation_page(
            ticket,
            request.user,
            scope=request.GET.get("scope", ""),
            before=_int_param(request, "before"),
            # The frame's policy names this origin for inline images (see tickets.display).
            origin=f"{request.scheme}://{request.get_host()}",
            detail_url=detail_url,
            shown=ticket_page.images_shown(request.GET.get("images", "")),
            inbox_origin=inbox_origin(request),
        ),
        "panel": panel,
        "customer": ticket.customer,
        "customer_language": panel.language,
        "customer_value": panel.lifetime,
        "identities": panel.identities,
        "orders": orders,
        # The customer's other orders; an order action awaiting the agent's confirmation.
        "customer_orders": order_view.other_orders,
        "pending_order_action": pending_order_action,
        "order_action_events": list(
            ticket.events.filter(kind=TicketEvent.Kind.ORDER_ACTION).select_related("actor").order_by("-created_at")[:10]
        ),
        "reply_form": form,
        "composer_result": composer_result,
        "canned_responses": composer.canned_responses(ticket),
        "canned_preview": canned_preview,
        "canned_placeholders": PLACEHOLDERS,
        "send_options": options,
        "max_attachments": composer.MAX_ATTACHMENTS,
        "attachment_max_bytes": settings.ATTACHMENT_MAX_BYTES,
        "status_form": status_form or StatusForm(initial={"status": ticket.status}),
        "reply_url": reverse("tickets:reply", args=[ticket.pk]),
        "is_amazon": ticket.channel == Channel.AMAZON,
        "amazon_warnings": amazon_warnings or (composer_result.amazon if composer_result else []),
        # Messenger, Instagram and WhatsApp: until when a free-form reply is allowed.
        "reply_window": composer.window_for(ticket, chosen),
        "status_url": reverse("tickets:change_status", args=[ticket.pk]),
        "timeline": ticket_page.timeline(ticket),
        "links": ticket_page.ticket_links(ticket, request.user),
        "link_kinds": TicketLink.Kind.choices,
        "assignees": list(helpdesk_users().order_by("first_name", "last_name", "username")),
        "teams": list(Team.objects.order_by("name")),
        "all_tags": list(Tag.objects.order_by("name")),
        "ticket_tags": list(ticket.tags.order_by("name")),
        "priorities": Ticket.Priority.choices,
        "neighbours": _neighbour_urls(request, ticket),
        "inbox_origin": inbox_origin(request),
        "action_error": action_error,
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
    """Send a reply or add a note. Held back, with the text kept and the reason shown, when the
    composer's checks find something (see `tickets.composer`): 409 when newer messages arrived."""
    ticket = _ticket_or_404(request, pk)
    options = composer.send_options(ticket, list(
        ChannelIdentity.objects.filter(customer_id=ticket.customer_id).select_related("account")
    ))
    form = ComposerForm(request.POST, request.FILES, options=options)
    if not form.is_valid():
        return _render_ticket(request, ticket, reply_form=form, status=400)
    result = composer.submit(ticket=ticket, form=form, user=request.user)
    if result.held_back:
        # Nothing is sent. Amazon would refuse or flag the reply (a flagged account can lose its
        # messaging rights), the provider would not deliver it, or the agent has not seen what
        # arrived meanwhile. The page comes back with the text kept and a "Send anyway" box.
        return _render_ticket(request, ticket, reply_form=form, composer_result=result,
                              status=409 if result.newer else 200)
    message = result.message
    if message.direction == Message.Direction.NOTE:
        messages.success(request, _("Internal note added."))
    else:
        messages.success(request, _("Reply queued for sending."))
    if result.status_changed_to:
        messages.success(
            request,
            _("Status changed to %(status)s.") % {"status": Ticket.Status(result.status_changed_to).label},
        )
    return redirect(ticket_url(ticket.pk, inbox_origin(request), f"message-{message.pk}"))


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
    return redirect(ticket_url(ticket.pk, inbox_origin(request)))


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
