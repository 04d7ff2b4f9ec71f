"""The eBay message poll runs from beat in a real Celery worker: the worker asks the Trading API
(a local server on loopback), stores each message once and threads it into a ticket."""

from __future__ import annotations

import time

import pytest

from channels_ingest.adapters.ebay.tasks import poll_ebay_messages_task
from channels_ingest.models import InboundEvent
from tests.ebay_helpers import (
    TOKEN_PATH,
    TRADING_PATH,
    TradingApi,
    ebay_account,
    full_message,
    token_answer,
)
from tests.shop_helpers import ShopServer
from tests.workers import celery_worker_process  # noqa: F401  (fixture)
from tickets.models import Message


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_polls_and_threads_ebay_messages(celery_worker_process):  # noqa: F811
    with ShopServer() as server:
        api = TradingApi({"91001": full_message("91001", text="Is this still available?")})
        server.route("POST", TRADING_PATH, api)
        server.route("POST", TOKEN_PATH, token_answer)
        account = ebay_account(server.url)
        worker = celery_worker_process(queues=("ingest",), include=("channels_ingest.tasks",))

        poll_ebay_messages_task.delay()

        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not Message.objects.filter(external_id="91001").exists():
            time.sleep(0.2)
        message = Message.objects.filter(external_id="91001").select_related("ticket").first()
        assert message is not None, worker.log()[-3000:]
        assert message.ticket.channel_account_id == account.pk
        assert message.ticket.external_thread_id == "ebay:110012345678:buyer_anna"
        assert InboundEvent.objects.get().event_id == "message:91001"

        poll_ebay_messages_task.delay()  # a second pass reads the same window again: stored once
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(api.windows) < 2:
            time.sleep(0.2)
        assert len(api.windows) == 2, worker.log()[-3000:]
        time.sleep(0.5)
        assert InboundEvent.objects.count() == 1
        assert api.fetched == ["91001"]
