"""eBay's mandatory marketplace account deletion endpoint: the challenge_code GET, the
X-EBAY-SIGNATURE check (public key fetched from a local Notification API and cached), and the
deletion acted on."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from channels_ingest.adapters.ebay import signature
from channels_ingest.base import CustomerHandle, NormalizedMessage
from channels_ingest.models import InboundEvent
from tests.ebay_helpers import (
    ENDPOINT_URL,
    KEY_PATH,
    SDK_CASES,
    TAMPERED,
    TAMPERED_HEADERS,
    TOKEN_PATH,
    VERIFICATION_TOKEN,
    ebay_account,
    headers_of,
    post_deletion,
    serve_keys,
    token_answer,
)
from tests.shop_helpers import Answer, ShopServer
from tests.webhook_helpers import process_stored_event
from tickets.ingest import ingest_message
from tickets.models import ChannelIdentity, Customer, Message, PrivacyRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def server():
    with ShopServer() as running:
        yield running


@pytest.fixture
def account(server):
    return ebay_account(server.url)


def test_challenge_is_answered_with_the_sha256_of_code_token_and_endpoint(client, account):
    response = client.get(f"/hooks/ebay/{account.public_id}/", {"challenge_code": "a8628072-3d33-45ee-9004-bee86830a22d"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    expected = hashlib.sha256(
        ("a8628072-3d33-45ee-9004-bee86830a22d" + VERIFICATION_TOKEN + ENDPOINT_URL).encode()
    ).hexdigest()
    assert response.json() == {"challengeResponse": expected}


def test_get_without_challenge_code_is_not_allowed(client, account):
    assert client.get(f"/hooks/ebay/{account.public_id}/").status_code == 405


def test_signed_sample_is_accepted_and_the_key_fetched_with_an_application_token(client, server, account):
    serve_keys(server)
    response = post_deletion(client, account)
    assert response.status_code == 200, response.content
    event = InboundEvent.objects.get()
    assert event.event_id == "notification:49feeaeb-4982-42d9-a377-9645b8479411_33f7e043-fed8-442b-9d44-791923bd9a6d"
    token_request, key_request = server.requests
    assert token_request.path == TOKEN_PATH
    assert token_request.headers["Authorization"] == "Basic " + base64.b64encode(b"Helpdesk-App-PRD-0123:PRD-secret").decode()
    assert "grant_type=client_credentials" in token_request.body.decode()
    assert (key_request.path, key_request.headers["Authorization"]) == (KEY_PATH, "Bearer v^1.1#app-token")


def test_tampered_sample_is_refused_and_nothing_stored(client, server, account):
    serve_keys(server)
    response = post_deletion(client, account, TAMPERED, headers_of(TAMPERED_HEADERS))
    assert response.status_code == 401
    assert InboundEvent.objects.count() == 0


def test_missing_or_garbled_signature_is_refused(client, server, account):
    serve_keys(server)
    assert post_deletion(client, account, headers={}).status_code == 401
    assert post_deletion(client, account, headers={"X-EBAY-SIGNATURE": "not base64 at all!"}).status_code == 401
    assert InboundEvent.objects.count() == 0
    assert server.requests == []  # nothing asked of eBay for a header that cannot be right


def test_public_key_is_fetched_once_and_cached(client, server, account):
    serve_keys(server)
    for _ in range(3):
        assert post_deletion(client, account).status_code == 200
    assert [r.path for r in server.requests].count(KEY_PATH) == 1
    assert [r.path for r in server.requests].count(TOKEN_PATH) == 1


def test_public_key_cache_expires(client, server, account, monkeypatch):
    serve_keys(server)
    assert post_deletion(client, account).status_code == 200
    clock = signature.time.monotonic() + signature.KEY_CACHE_SECONDS + 1
    monkeypatch.setattr(signature.time, "monotonic", lambda: clock)
    assert post_deletion(client, account).status_code == 200
    assert [r.path for r in server.requests].count(KEY_PATH) == 2


def test_replay_is_stored_once(client, server, account):
    serve_keys(server)
    first = post_deletion(client, account)
    second = post_deletion(client, account)
    assert (first.json()["status"], second.json()["status"]) == ("accepted", "duplicate")
    assert InboundEvent.objects.count() == 1


@pytest.mark.parametrize(("case", "status"), [("VALID", 200), ("INVALID", 401), ("SIGNATURE_MISMATCH", 401), ("ERROR", 401)])
def test_sdk_reference_cases(client, server, account, case, status):
    """eBay's own SDK test matrix: a valid signature, the signature on another message, another
    signature on the message, and a key look-up that fails."""
    sample = SDK_CASES[case]
    server.route("POST", TOKEN_PATH, token_answer)
    if sample.get("response"):
        server.route("GET", KEY_PATH, [Answer(200, sample["response"])])
    else:
        server.route("GET", KEY_PATH, [Answer(500, {"errors": [{"errorId": 195000, "message": "System error"}]})])
    body = json.dumps(sample["message"], separators=(",", ":")).encode()
    response = post_deletion(client, account, body, {"X-EBAY-SIGNATURE": sample["signature"]})
    assert response.status_code == status
    assert InboundEvent.objects.count() == (1 if status == 200 else 0)


def test_unknown_key_is_refused(client, server, account):
    serve_keys(server)
    server.route("GET", KEY_PATH, [Answer(404, {"errors": [{"errorId": 195001, "message": "The public key was not found"}]})])
    assert post_deletion(client, account).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_deletion_erases_the_ebay_users_data(client, server, account):
    serve_keys(server)
    outcome = ingest_message(account=account, normalized=NormalizedMessage(
        channel="ebay", external_id="7001", thread_key="ebay:110012345678:test_user",
        customer=CustomerHandle(kind="ebay_user", value="test_user", display_name="Test User"),
        subject="Question", body_text="My address is 1 Main Street", visible_text="My address is 1 Main Street",
    ))
    other = ingest_message(account=account, normalized=NormalizedMessage(
        channel="ebay", external_id="7002", thread_key="ebay:110012345678:someone_else",
        customer=CustomerHandle(kind="ebay_user", value="someone_else"), body_text="Hello", visible_text="Hello",
    ))
    event, _ = process_stored_event(post_deletion(client, account))
    assert event.state == InboundEvent.State.PROCESSED, event.error
    request = PrivacyRequest.objects.get()
    assert (request.kind, request.account_id) == ("customer_redact", account.pk)
    customer = Customer.objects.get(pk=request.customer_id)
    assert customer.name == "[redacted]"
    assert not ChannelIdentity.objects.filter(kind="ebay_user", value="test_user").exists()
    assert Message.objects.get(pk=outcome.message_id).body_text == "[redacted]"
    assert Message.objects.get(pk=other.message_id).body_text == "Hello"
    assert ChannelIdentity.objects.filter(kind="ebay_user", value="someone_else").exists()


def test_challenge_without_a_configured_endpoint_uses_the_requests_own_url(client, server):
    account = ebay_account(server.url, deletion_endpoint_url="")
    response = client.get(f"/hooks/ebay/{account.public_id}/?challenge_code=abc")
    endpoint = f"http://testserver/hooks/ebay/{account.public_id}/"
    assert response.json() == {
        "challengeResponse": hashlib.sha256(("abc" + VERIFICATION_TOKEN + endpoint).encode()).hexdigest()}


def test_challenge_for_an_account_without_verification_token_is_refused(client, server, account):
    account.set_secrets({"client_id": "x", "client_secret": "y"})
    account.save()
    response = client.get(f"/hooks/ebay/{account.public_id}/?challenge_code=abc")
    assert response.status_code == 404
    assert "challengeResponse" not in response.json()
