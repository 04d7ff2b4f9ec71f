"""HTTP side of the chat widget: the script a shop embeds, file uploads, the agents' typing signal
and a demo shop page.

The script (`/widget/<public key>.js`) is public: it carries the widget's look and its texts in
the widget's language (`?lang=es` picks another of en/es/ro), and loads the widget's code and
style from the static files. Uploads answer cross-origin requests only from the store's allowed
origins (CORS), and need the visitor's token in the `X-Widget-Token` header.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from channels_ingest.base import InboundAttachment
from channels_ingest.widget import conversations, limits
from channels_ingest.widget.attachments import AttachmentRefused, check_upload, max_upload_bytes
from channels_ingest.widget.conversations import WidgetError
from channels_ingest.widget.models import WidgetSettings
from channels_ingest.widget.strings import widget_strings
from tickets.models import Ticket

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def _absolute(request: HttpRequest, path: str) -> str:
    return path if path.startswith(("http://", "https://")) else request.build_absolute_uri(path)


def widget_config(request: HttpRequest, widget: WidgetSettings, language: str, *, chosen: bool = False) -> dict:
    """What the widget's code needs, in `language`: addresses, look, limits and texts."""
    socket_base = request.build_absolute_uri("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    with translation.override(language):
        return {
            "key": widget.public_key,
            "language": language,
            "languageChosen": chosen,  # asked for by the page: the bot keeps to it
            "title": widget.display_title,
            "position": widget.position,
            "colours": {"primary": widget.primary_colour, "text": widget.text_colour},
            "socket": socket_base.rstrip("/") + f"/ws/widget/{widget.public_key}/",
            "upload": _absolute(request, reverse("widget:upload", args=[widget.public_key])),
            "files": _absolute(request, reverse("widget:upload", args=[widget.public_key])).replace(
                "/upload/", "/files/"),
            "css": _absolute(request, static("widget/widget.css")),
            "code": _absolute(request, static("widget/widget.js")),
            "maxBytes": max_upload_bytes(),
            "maxChars": conversations.max_message_chars(),
            "strings": widget_strings(),
        }


def _json_for_script(data: dict) -> str:
    # Safe inside any page: no "</script>", no HTML-significant characters left as they are.
    return (
        json.dumps(data, ensure_ascii=False)
        .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


@require_GET
def loader(request: HttpRequest, public_key: str) -> HttpResponse:
    widget = conversations.widget_for_key(public_key)
    if widget is None:
        # A script is expected: an empty one breaks nothing on the shop's page.
        return HttpResponse("/* chat widget not found or disabled */\n", content_type="text/javascript", status=404)
    language = request.GET.get("lang", "")
    chosen = language in LANGUAGE_CODES
    if not chosen:
        language = widget.conversation_language
    config = widget_config(request, widget, language, chosen=chosen)
    response = render(
        request, "widget/loader.js", {"config_json": _json_for_script(config)},
        content_type="text/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"  # the script itself is public
    return response


# --- Uploads --------------------------------------------------------------------------------------


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "X-Widget-Token, Content-Type"
    response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


def _refused(message: str, status: int, code: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, "code": code, **extra}, status=status)


def _checked_call(request: HttpRequest, public_key: str, method: str):
    """(widget, origin, refusal) for a call from a shop page: the refusal is the answer to give
    instead (unknown widget 404; an origin the store does not allow 403, without CORS headers so
    the browser keeps it from the page; the CORS preflight 204; another method 405), else None."""
    widget = conversations.widget_for_key(public_key)
    if widget is None:
        return None, "", _refused("unknown widget", 404, "unknown_widget")
    origin = request.headers.get("Origin", "")
    if not widget.allows_origin(origin):
        return widget, origin, _refused("origin not allowed", 403, "origin_refused")
    if request.method == "OPTIONS":
        return widget, origin, _cors(HttpResponse(status=204), origin)
    if request.method != method:
        return widget, origin, _cors(_refused(f"{method} only", 405, "method"), origin)
    return widget, origin, None


@csrf_exempt  # no cookies are used: the visitor's token in a header is the credential
def upload(request: HttpRequest, public_key: str) -> HttpResponse:
    """POST multipart `file` (and optionally `client_id`) with header X-Widget-Token."""
    widget, origin, refusal = _checked_call(request, public_key, "POST")
    if refusal is not None:
        return refusal
    conversation = conversations.find_conversation(widget, request.headers.get("X-Widget-Token", ""))
    with translation.override(conversation.language if conversation else widget.conversation_language):
        if conversation is None:
            return _cors(_refused(_("This conversation is not known; reload the page."), 403, "unknown_conversation"),
                         origin)
        blocked = limits.hit("upload", str(conversation.pk))
        if blocked:
            return _cors(_refused(
                _("You are sending files too quickly. Please wait %(seconds)s seconds.") % {"seconds": blocked.retry_after},
                429, "rate_limited", retry_after=blocked.retry_after,
            ), origin)
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > max_upload_bytes() + 64 * 1024:
            return _cors(_too_large(), origin)
        uploaded = request.FILES.get("file")
        if uploaded is None:
            return _cors(_refused(_("No file was sent."), 400, "no_file"), origin)
        try:
            content_type, content = check_upload(uploaded)
        except AttachmentRefused as refused:
            return _cors(_refused(str(refused), refused.status, refused.code), origin)
        attachment = InboundAttachment(filename=uploaded.name[:200], content_type=content_type, content=content)
        try:
            said = conversations.visitor_says(conversation, "", client_id=str(request.POST.get("client_id") or "")[:64],
                                              attachments=[attachment])
        except WidgetError as error:
            return _cors(_refused(str(error), 400, error.code), origin)
    from channels_ingest.widget.outbound import group_event
    from tickets.events import publish

    for event in said.events:
        publish([conversation.group_name], group_event(event))
    return _cors(JsonResponse({"ok": True, "events": said.events}, status=201), origin)


@csrf_exempt
def download(request: HttpRequest, public_key: str, attachment_id: int) -> HttpResponse:
    """GET a file of the conversation (the visitor's own, or one an agent sent them), with the
    visitor's token in X-Widget-Token. Files of other conversations, of notes, of replies not
    yet sent: 404, as if they did not exist."""
    widget, origin, refusal = _checked_call(request, public_key, "GET")
    if refusal is not None:
        return refusal
    conversation = conversations.find_conversation(widget, request.headers.get("X-Widget-Token", ""))
    attachment = conversations.public_attachment(conversation, attachment_id) if conversation else None
    if attachment is None:
        return _cors(_refused("not found", 404, "not_found"), origin)
    response = FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.filename,
                            content_type="application/octet-stream")
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return _cors(response, origin)


def _too_large() -> JsonResponse:
    size_mb = max_upload_bytes() / (1024 * 1024)
    return _refused(_("The file is too large: at most %(size)s MB.") % {"size": f"{size_mb:g}"}, 413, "too_large")


# --- Agents --------------------------------------------------------------------------------------


@require_POST
@login_required
def agent_typing(request: HttpRequest, ticket_id: int) -> JsonResponse:
    """The ticket page tells the visitor an agent is writing (`typing=0` when they stopped)."""
    from tickets.access import can_view_ticket

    ticket = get_object_or_404(Ticket, pk=ticket_id)
    if not hasattr(request.user, "agent_profile") or not can_view_ticket(request.user, ticket):
        raise Http404
    from channels_ingest.widget.outbound import notify_visitor_typing

    told = notify_visitor_typing(ticket, typing=request.POST.get("typing", "1") != "0")
    return JsonResponse({"conversations": told})


@login_required
def demo_shop(request: HttpRequest, store_slug: str) -> HttpResponse:
    """A pretend shop page carrying the store's snippet, to try the widget from `make run`."""
    widget = get_object_or_404(WidgetSettings.objects.select_related("store"), store__slug=store_slug)
    script = request.build_absolute_uri(reverse("widget:loader", args=[widget.public_key]))
    language = request.GET.get("lang", "")
    if language in LANGUAGE_CODES:
        script += f"?lang={language}"
    from tickets.access import visible_orders

    # Real orders to try the bot with: only those the signed-in person may read (tickets.access).
    samples = (
        visible_orders(request.user).filter(store=widget.store).exclude(customer__email="").select_related("customer")
        .order_by("-placed_at")[:3]
    )
    return render(request, "widget/demo_shop.html", {
        "widget": widget, "script_url": script, "samples": samples,
        "origin_allowed": widget.allows_origin(request.build_absolute_uri("/").rstrip("/")),
        "origin": request.build_absolute_uri("/").rstrip("/"),
    })


def snippet(widget: WidgetSettings) -> str:
    """The one line a shop puts on its pages."""
    url = f"{settings.PUBLIC_URL}{reverse('widget:loader', args=[widget.public_key])}"
    return f'<script src="{url}" async></script>'
