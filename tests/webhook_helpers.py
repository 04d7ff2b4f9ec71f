"""Shared by the webhook tests: post a body to /hooks/<provider>/<account>/ as a provider would,
make a channel account with its secrets, read the shared corpus and build form bodies."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.test import Client

from channels_ingest.actions import process_event
from channels_ingest.models import InboundEvent
from tests.factories import ChannelAccountFactory
from tickets.models import Channel, ChannelAccount, Message

# The shared corpus sits beside the repository (../shared/corpus), in CI as on a developer machine.
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
ADAPTERS = Path(__file__).resolve().parents[1] / "channels_ingest" / "adapters"


def post_webhook(
    client: Client,
    provider: str,
    account: ChannelAccount,
    body: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
):
    """POST `body` byte for byte, as the provider sends it, and return the response."""
    return client.post(
        f"/hooks/{provider}/{account.public_id}/", data=body, content_type=content_type, headers=headers or {}
    )


def make_email_account(
    provider: str, secrets: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
) -> ChannelAccount:
    """A mailbox carried by `provider`, with these secrets (encrypted, as in production)."""
    account = ChannelAccountFactory(provider=provider, channel=Channel.EMAIL, settings=settings or {})
    if secrets:
        account.set_secrets(secrets)
        account.save()
    return account


def basic_auth(credentials: str) -> dict[str, str]:
    """The header a client sends for https://user:password@host/... ("user:password")."""
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def corpus_bytes(relative: str) -> bytes:
    return (CORPUS / relative).read_bytes()


def corpus_content_type(relative: str) -> str:
    """The Content-Type documented in a corpus body's `.headers.json` sibling."""
    path = CORPUS / relative
    headers = json.loads(path.with_name(path.stem + ".headers.json").read_text())
    return headers["Content-Type"]


def fixture_bytes(provider: str, name: str) -> bytes:
    return (ADAPTERS / provider / "fixtures" / name).read_bytes()


def multipart_form(
    fields: Sequence[tuple[str, str | bytes]], files: Sequence[tuple[str, str, str, bytes]] = ()
) -> tuple[bytes, str]:
    """A multipart/form-data body (CRLF, RFC 7578) and its Content-Type. Field values go in as
    bytes untouched (a raw email in any charset); files are (field, filename, type, content)."""
    boundary = "----helpdesk-test-" + uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields:
        data = value.encode() if isinstance(value, str) else value
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + data + b"\r\n"
        )
    for name, filename, content_type, content in files:
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
            + content
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def urlencoded_form(fields: Sequence[tuple[str, str | bytes]]) -> tuple[bytes, str]:
    return urlencode(fields).encode("ascii"), "application/x-www-form-urlencoded"


def process_stored_event(response) -> tuple[InboundEvent, list[Message]]:
    """Process the event a 200 answer names, as the worker would, and return it with the
    messages it created."""
    assert response.status_code == 200, response.content
    event_pk = response.json()["event"]
    process_event(event_pk)
    event = InboundEvent.objects.get(pk=event_pk)
    return event, list(Message.objects.filter(inbound_event=event).select_related("ticket__customer"))
