"""The one webhook endpoint every provider posts to: POST /hooks/<provider>/<account>/.

Order of checks, each answered before anything is stored:
size (413) → account (404; 410 once removed) → signature on the raw bytes (401) → event id (400 if malformed).
Then the raw event is stored once and the provider gets 200 at once; parsing happens in a worker.
"""

from __future__ import annotations

import logging
import time
import uuid

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from channels_ingest.actions import record_event
from channels_ingest.base import MalformedRequest, SignatureInvalid
from channels_ingest.registry import UnknownProvider, get_adapter
from tickets.models import ChannelAccount

logger = logging.getLogger(__name__)


# Accounts looked up in the last few seconds, per process: a busy webhook reads its account once,
# not on every delivery. An edit (new secret, pause) is seen within ACCOUNT_CACHE_SECONDS.
ACCOUNT_CACHE_SECONDS = 10
_accounts: dict[tuple[uuid.UUID, str], tuple[float, ChannelAccount | None]] = {}


def _find_account(public_id: uuid.UUID, provider: str) -> ChannelAccount | None:
    key = (public_id, provider)
    now = time.monotonic()
    cached = _accounts.get(key)
    if cached is not None and now - cached[0] < ACCOUNT_CACHE_SECONDS:
        return cached[1]
    account = ChannelAccount.objects.filter(public_id=public_id, provider=provider).first()
    if len(_accounts) > 10_000:
        _accounts.clear()
    _accounts[key] = (now, account)
    return account


def _refuse(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


def _declared_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def _kept_headers(request: HttpRequest, names: tuple[str, ...]) -> dict[str, str]:
    return {name: request.headers[name] for name in names if name in request.headers}


@csrf_exempt
async def webhook(request: HttpRequest, provider: str, account: str) -> HttpResponse:
    """Async so that, under ASGI, the work runs on a pool of long-lived threads whose database
    connections persist: a sync view gets a new thread, and so a new database connection, for
    every request. HELPDESK_WEBHOOK_SHARED_THREADS=0 runs it on the request's own thread instead
    (the in-process test suite does, since each test's data lives in its thread's transaction)."""
    shared = settings.HELPDESK_WEBHOOK_SHARED_THREADS
    return await sync_to_async(handle_webhook, thread_sensitive=not shared)(request, provider, account, shared)


def handle_webhook(request: HttpRequest, provider: str, account: str, shared: bool) -> HttpResponse:
    """The webhook, from a thread of the shared pool (`shared`) or the request's own thread.
    Called by the Django view above and by the ASGI fast path (channels_ingest/asgi.py)."""
    if not shared:
        return _webhook(request, provider, account)
    # Pool threads outlive requests: apply the usual age and health rules to their connection.
    close_old_connections()
    try:
        return _webhook(request, provider, account)
    finally:
        close_old_connections()


def _webhook(request: HttpRequest, provider: str, account: str) -> HttpResponse:
    try:
        adapter = get_adapter(provider)
    except UnknownProvider:
        return _refuse(404, "unknown provider")
    try:
        account_id = uuid.UUID(account)
    except ValueError:
        return _refuse(404, "unknown account")
    channel_account = _find_account(account_id, provider)
    if channel_account is None:
        return _refuse(404, "unknown account")
    if channel_account.status == ChannelAccount.Status.REMOVED:
        # Disconnected by an admin: the provider is told the endpoint is gone for good.
        return _refuse(410, "account removed")

    if request.method == "GET":
        answer = adapter.handshake(request, channel_account)
        return answer if answer is not None else HttpResponseNotAllowed(["POST"])
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])

    limit = settings.HELPDESK_WEBHOOK_MAX_BYTES
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        return _refuse(413, "body too large")
    body = request.read(limit + 1)
    if len(body) > limit:
        return _refuse(413, "body too large")
    # Adapters read request.body (and request.POST for form posts) from the bytes read above.
    request._body = body

    try:
        adapter.verify(request, channel_account)
    except SignatureInvalid as exc:
        logger.info("refused %s webhook for account %s: %s", provider, channel_account.pk, exc)
        return _refuse(401, "invalid signature")
    try:
        event_id = adapter.event_id(request, channel_account)
    except MalformedRequest as exc:
        return _refuse(400, str(exc))

    event, created = record_event(
        provider=provider,
        account=channel_account,
        event_id=event_id,
        body=body,
        headers=_kept_headers(request, adapter.KEPT_HEADERS),
    )
    return JsonResponse({"status": "accepted" if created else "duplicate", "event": event.pk}, status=200)
