"""The ASGI fast path for webhooks, through a real uvicorn: same answers as the Django view."""

from __future__ import annotations

import json
import urllib.request

import pytest

from channels_ingest.adapters.generic.adapter import sign
from channels_ingest.models import InboundEvent
from tests.factories import ChannelAccountFactory
from tests.stack import LocalStack

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_asgi"


@pytest.fixture
def stack(tmp_path):
    with LocalStack(tmp_path, HELPDESK_WEBHOOK_MAX_BYTES="4096") as running:
        running.start_web()
        yield running


@pytest.fixture
def account():
    account = ChannelAccountFactory(channel="marketplace", provider="generic")
    account.set_secrets({"signing_secret": SECRET})
    account.save()
    return account


def body(event_id: str = "evt-1", text: str = "hello") -> bytes:
    return json.dumps({"id": event_id, "type": "message.created", "message": {
        "id": "m-" + event_id, "customer": {"id": "c-1"}, "text": text}}).encode()


def test_signed_event_is_stored_once(stack, account):
    payload = body()
    headers = {"Content-Type": "application/json", "X-Helpdesk-Signature": sign(SECRET, payload)}
    first = stack.post(f"/hooks/generic/{account.public_id}/", payload, headers)
    second = stack.post(f"/hooks/generic/{account.public_id}/", payload, headers)
    assert first[0] == second[0] == 200
    assert json.loads(first[1])["status"] == "accepted" and json.loads(second[1])["status"] == "duplicate"
    assert InboundEvent.objects.count() == 1


def test_unsigned_is_401_and_stores_nothing(stack, account):
    status, _ = stack.post(f"/hooks/generic/{account.public_id}/", body(), {"Content-Type": "application/json"})
    assert status == 401
    assert InboundEvent.objects.count() == 0


def test_oversized_body_is_413_while_reading(stack, account):
    payload = body(text="x" * 10_000)
    status, answer = stack.post(
        f"/hooks/generic/{account.public_id}/", payload,
        {"Content-Type": "application/json", "X-Helpdesk-Signature": sign(SECRET, payload)},
    )
    assert (status, json.loads(answer)) == (413, {"error": "body too large"})
    assert InboundEvent.objects.count() == 0


def test_unknown_host_is_refused(stack, account):
    payload = body()
    status, _ = stack.post(
        f"/hooks/generic/{account.public_id}/", payload,
        {"Content-Type": "application/json", "X-Helpdesk-Signature": sign(SECRET, payload), "Host": "evil.example"},
    )
    assert status == 400
    assert InboundEvent.objects.count() == 0


def test_other_paths_still_reach_django(stack):
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.port}/healthz", timeout=10) as response:
        assert response.status == 200
    status, _ = stack.post("/hooks/", b"", {})
    assert status == 404
