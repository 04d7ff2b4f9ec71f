"""The webhook fast path: `/hooks/...` served straight from ASGI, in front of Django's handler.

A webhook needs no session, CSRF, locale or messages, yet under Django's ASGI handler every request
pays for the whole middleware stack and for the request signals, which are sent from a thread
spawned per request. This app builds the same Django request object, enforces the size limit while
reading, and calls the same code as the Django view (`channels_ingest.views._webhook`) from the
shared thread pool. The Django URL stays too, for the test client and WSGI deployments.
"""

from __future__ import annotations

import io
import re

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, JsonResponse

from channels_ingest.views import handle_webhook

HOOK_PATH = re.compile(r"^/hooks/(?P<provider>[-a-zA-Z0-9_]+)/(?P<account>[^/]+)/$")


class WebhookApp:
    def __init__(self, fallback) -> None:
        self.fallback = fallback

    async def __call__(self, scope, receive, send) -> None:
        match = HOOK_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await self.fallback(scope, receive, send)
            return
        body = await _read_body(receive, settings.HELPDESK_WEBHOOK_MAX_BYTES)
        if body is None:
            response: HttpResponse = JsonResponse({"error": "body too large"}, status=413)
        else:
            request = ASGIRequest(scope, io.BytesIO(body))
            try:
                request.get_host()  # ALLOWED_HOSTS, as Django's handler would check
            except DisallowedHost:
                response = JsonResponse({"error": "host not allowed"}, status=400)
            else:
                shared = settings.HELPDESK_WEBHOOK_SHARED_THREADS
                response = await sync_to_async(handle_webhook, thread_sensitive=not shared)(
                    request, match["provider"], match["account"], shared
                )
        await _send(response, send)


async def _read_body(receive, limit: int) -> bytes | None:
    """The whole body, or None once it exceeds `limit` (the rest is not read into memory)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send(response: HttpResponse, send) -> None:
    headers = [(name.encode("latin-1"), str(value).encode("latin-1")) for name, value in response.items()]
    content = response.content
    headers.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": content})
