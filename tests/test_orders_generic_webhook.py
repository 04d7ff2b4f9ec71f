"""The generic signed webhook's order event (`order.upserted`), and providers without an adapter
(BigCommerce): refused with 404 and stored nowhere."""

from __future__ import annotations

import json
import os
from decimal import Decimal

import pytest

from channels_ingest.adapters.generic.adapter import sign
from channels_ingest.models import InboundEvent
from tests.factories import ChannelAccountFactory
from tests.webhook_helpers import CORPUS, post_webhook, process_stored_event
from tickets.models import Channel, Order

pytestmark = pytest.mark.django_db

SECRET = "generic-signing-secret"

ORDER = {
    "id": "evt-1",
    "type": "order.upserted",
    "order": {
        "id": "EMAG-4410021",
        "number": "4410021",
        "status": "shipped",
        "payment_status": "paid",
        "currency": "ron",
        "subtotal": 199.99,
        "shipping_total": "15.00",
        "total": 214.99,
        "placed_at": "2026-03-01T09:30:00+02:00",
        "updated_at": "2026-03-02T10:00:00+02:00",
        "customer": {"id": "c-77", "name": "Ioana Pop", "email": "Ioana@Example.ro"},
        "shipping_address": {"city": "Cluj-Napoca", "country_code": "RO"},
        "lines": [{"id": "l1", "sku": "MUG-1", "title": "Cană", "quantity": 2, "unit_price": 99.995, "total": 199.99}],
        "shipments": [{"id": "s1", "carrier": "FAN Courier", "tracking_number": "2150000123",
                       "tracking_url": "https://www.fancourier.ro/awb-tracking/?awb=2150000123", "status": "in_transit"}],
        "refunds": [],
    },
}


@pytest.fixture
def account():
    account = ChannelAccountFactory(provider="generic", channel=Channel.MARKETPLACE)
    account.set_secrets({"signing_secret": SECRET})
    account.save()
    return account


def post(client, account, payload: dict):
    body = json.dumps(payload).encode()
    return post_webhook(client, "generic", account, body, "application/json", {"X-Helpdesk-Signature": sign(SECRET, body)})


def test_order_event_becomes_the_order_with_exact_amounts(client, account):
    event, _ = process_stored_event(post(client, account, ORDER))
    assert event.state == InboundEvent.State.PROCESSED, event.error
    order = Order.objects.get()
    assert (order.external_id, order.number, order.status, order.currency) == ("EMAG-4410021", "4410021", "shipped", "RON")
    assert (order.subtotal, order.shipping_total, order.total) == (Decimal("199.99"), Decimal("15.00"), Decimal("214.99"))
    line = order.lines.get()
    assert (line.quantity, line.unit_price, line.total) == (2, Decimal("100.00"), Decimal("199.99"))
    shipment = order.shipments.get()
    assert (shipment.carrier, shipment.status) == ("FAN Courier", "in_transit")
    assert order.customer.email == "ioana@example.ro"


def test_an_older_order_event_does_not_overwrite_a_newer_one(client, account):
    process_stored_event(post(client, account, ORDER))
    older = json.loads(json.dumps(ORDER))
    older["id"] = "evt-0"
    older["order"].update(status="paid", updated_at="2026-03-01T09:30:00+02:00")
    event, _ = process_stored_event(post(client, account, older))
    assert event.result["records"][0]["stale"] is True
    assert Order.objects.get().status == "shipped"


def test_invalid_order_event_is_kept_as_failed_with_the_reason(client, account):
    bad = json.loads(json.dumps(ORDER))
    bad["order"]["status"] = "teleported"
    del bad["order"]["total"]
    event, _ = process_stored_event(post(client, account, bad))
    assert event.state == InboundEvent.State.FAILED
    assert "order.status" in event.error and "order.total" in event.error
    assert Order.objects.count() == 0


def test_order_event_with_wrong_signature_is_refused(client, account):
    body = json.dumps(ORDER).encode()
    response = post_webhook(client, "generic", account, body, "application/json", {"X-Helpdesk-Signature": "sha256=00"})
    assert response.status_code == 401
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize("sample", sorted(p.name for p in (CORPUS / "webhooks" / "bigcommerce").glob("*.json")))
def test_bigcommerce_has_no_adapter_so_its_webhooks_are_refused_and_stored_nowhere(client, sample):
    """BigCommerce is not connected natively (its webhooks are thin notifications that need an API
    look-up): a merchant connects it through the generic webhook. Its deliveries get 404."""
    account = ChannelAccountFactory(provider="bigcommerce", channel=Channel.MARKETPLACE)
    body = (CORPUS / "webhooks" / "bigcommerce" / sample).read_bytes()
    response = post_webhook(client, "bigcommerce", account, body, "application/json")
    assert response.status_code == 404
    assert response.json() == {"error": "unknown provider"}
    assert InboundEvent.objects.count() == 0


def test_the_readme_openssl_recipe_gives_the_signature_the_webhook_accepts(client, account, tmp_path):
    """The README signs with `printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -hex`."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        # The make test set-up installs it; a machine without it can still run the rest.
        reason = "openssl is not installed (sudo apt-get install openssl)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must check the README's signing recipe.", pytrace=False)
        pytest.skip(reason)
    body = json.dumps(ORDER, ensure_ascii=False)
    script = """SIGNATURE="sha256=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -hex | sed 's/^.* //')"
printf '%s' "$SIGNATURE\""""
    signature = subprocess.run(["sh", "-c", script], env={"BODY": body, "SECRET": SECRET, "PATH": "/usr/bin:/bin"},
                               capture_output=True, text=True, check=True).stdout
    response = post_webhook(client, "generic", account, body.encode(), "application/json",
                            {"X-Helpdesk-Signature": signature})
    assert response.status_code == 200, signature
