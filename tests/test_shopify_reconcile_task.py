"""The periodic reconciliation runs on beat and in a real Celery worker: the worker asks the shop
(a local HTTP server on loopback) and stores the order whose webhook never came."""

from __future__ import annotations

import json
import time

import pytest
from django.conf import settings

from channels_ingest.shop_tasks import reconcile_shops_task
from tests.shop_helpers import Answer, ShopServer, shopify_account
from tests.webhook_helpers import corpus_bytes
from tests.workers import celery_worker_process  # noqa: F401  (fixture)
from tickets.models import Order

ORDER = json.loads(corpus_bytes("api/shopify-admin-rest/shopify-python-api-order.json"))["order"]


def test_reconciliation_is_on_the_beat_schedule():
    schedule = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["ingest.reconcile_shops"]["schedule"] == 900.0
    assert reconcile_shops_task.name == "ingest.reconcile_shops"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_finds_the_missing_order(celery_worker_process):  # noqa: F811
    with ShopServer() as server:
        server.route("GET", "/admin/api/2025-01/orders.json", [Answer(200, {"orders": [ORDER]})])
        account = shopify_account(api_base_url=server.url)
        worker = celery_worker_process(queues=("ingest",), include=("channels_ingest.shop_tasks",))

        reconcile_shops_task.delay()

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not Order.objects.filter(external_id="450789469").exists():
            time.sleep(0.2)
        assert Order.objects.filter(channel_account=account, external_id="450789469", number="#1001").exists(), (
            worker.log()[-3000:])
        assert server.requests[0].headers["X-Shopify-Access-Token"] == "shpat_test"


@pytest.mark.django_db(transaction=True)
def test_a_refund_before_its_order_makes_a_worker_fetch_the_order(client, celery_worker_process):  # noqa: F811
    from tests.shop_helpers import post_shopify
    from tests.webhook_helpers import process_stored_event

    webhook_order = json.loads(corpus_bytes("webhooks/shopify/orders-create.docs-example.json"))
    with ShopServer() as server:
        server.route("GET", "/admin/api/2025-01/orders/820982911946154500.json", [Answer(200, {"order": webhook_order})])
        account = shopify_account(api_base_url=server.url)
        worker = celery_worker_process(queues=("ingest",), include=("channels_ingest.shop_tasks",))
        body = corpus_bytes("webhooks/shopify/refunds-create.docs-example.json")
        process_stored_event(post_shopify(client, account, body, "refunds/create", "w-r"))

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not Order.objects.filter(number="#9999").exists():
            time.sleep(0.2)
        order = Order.objects.filter(number="#9999").first()
        assert order is not None, worker.log()[-3000:]
        assert (order.lines.count(), order.refunds.count()) == (5, 1)
