"""Order context on demand: an Amazon relay email naming an order the helpdesk does not know yet
gets the order fetched from the store's SP-API account (a local server on 127.0.0.1) after the
commit, and linked to the ticket."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from channels_ingest.adapters.amazon_sp.tasks import amazon_fetch_order_task
from channels_ingest.email.parse import parse_email
from tests.amazon_sp_helpers import TOKEN_PATH, TokenEndpoint, amazon_account, corpus_json
from tests.factories import ChannelAccountFactory, OrderFactory, StoreFactory
from tests.shop_helpers import Answer, ShopServer
from tests.workers import celery_worker_process, isolated_queues, queued_task_calls  # noqa: F401
from tickets.ingest import ingest_message
from tickets.models import Order, Ticket, TicketEvent

RELAY_MAIL = Path(__file__).resolve().parent / "fixtures" / "emails" / "amazon" / "es-where-is-my-order.eml"
ORDER_ID = "171-1234567-1234567"  # the order the buyer names in the fixture


def serve_order(server) -> None:
    server.route("POST", TOKEN_PATH, TokenEndpoint())
    order = corpus_json("orders-v0-getOrder-sandbox-mfn-unshipped.json")
    order["payload"] |= {"AmazonOrderId": ORDER_ID, "MarketplaceId": "A1RKKUPIHCS9HS",
                         "OrderTotal": {"CurrencyCode": "EUR", "Amount": "19.90"},
                         "BuyerInfo": {"BuyerEmail": "0x1abcd2efgh3ij4k@marketplace.amazon.es"}}
    server.route("GET", f"/orders/v0/orders/{ORDER_ID}", [Answer(200, order)])
    server.route("GET", f"/orders/v0/orders/{ORDER_ID}/orderItems", [Answer(200, {"payload": {
        "AmazonOrderId": ORDER_ID, "OrderItems": [{
            "ASIN": "B0C1234567", "OrderItemId": "55555555555555", "SellerSKU": "CASE-BLUE", "Title": "Funda azul",
            "QuantityOrdered": 1, "ItemPrice": {"CurrencyCode": "EUR", "Amount": "19.90"}}]}})])


def receive_relay_mail(store):
    mailbox = ChannelAccountFactory(store=store)
    return ingest_message(account=mailbox, normalized=parse_email(RELAY_MAIL.read_bytes()))


@pytest.mark.django_db
def test_relay_mail_with_an_unknown_order_fetches_and_links_it(django_capture_on_commit_callbacks):
    with ShopServer() as server:
        serve_order(server)
        account = amazon_account(server)
        with isolated_queues(["ingest"]) as queues:
            with django_capture_on_commit_callbacks(execute=True):
                outcome = receive_relay_mail(account.store)
            calls = [call for call in queued_task_calls(queues["ingest"]) if call[0] == "ingest.amazon_fetch_order"]
        assert calls == [("ingest.amazon_fetch_order", [account.store_id, ORDER_ID, outcome.ticket_id, "amazon.es", False])]
        assert not Order.objects.exists()  # nothing fetched inside the message's transaction

        amazon_fetch_order_task(*calls[0][1])  # what the worker does

    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    order = ticket.orders.get()
    assert (order.external_id, order.marketplace_site, str(order.total), order.currency) == (
        ORDER_ID, "amazon.es", "19.90", "EUR")
    assert order.lines.get().title == "Funda azul"
    # The relay address on the order is the identity the email came from: one customer.
    assert order.customer == ticket.customer
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ORDER_LINKED).count() == 1


@pytest.mark.django_db
def test_known_order_is_linked_at_once_and_nothing_is_fetched(django_capture_on_commit_callbacks):
    account = amazon_account()
    OrderFactory(store=account.store, marketplace="amazon", external_id=ORDER_ID, number=ORDER_ID)
    with isolated_queues(["ingest"]) as queues:
        with django_capture_on_commit_callbacks(execute=True):
            outcome = receive_relay_mail(account.store)
        calls = [call for call in queued_task_calls(queues["ingest"]) if call[0] == "ingest.amazon_fetch_order"]
    assert calls == []
    assert Ticket.objects.get(pk=outcome.ticket_id).orders.get().external_id == ORDER_ID


@pytest.mark.django_db
def test_store_without_amazon_account_fetches_nothing(django_capture_on_commit_callbacks):
    with isolated_queues(["ingest"]) as queues:
        with django_capture_on_commit_callbacks(execute=True):
            outcome = receive_relay_mail(StoreFactory())
        calls = [call for call in queued_task_calls(queues["ingest"]) if call[0] == "ingest.amazon_fetch_order"]
    assert calls == [] and outcome.created_ticket


def test_a_real_worker_fetches_the_order_and_links_it(celery_worker_process):  # noqa: F811
    with ShopServer() as server:
        serve_order(server)
        account = amazon_account(server)
        worker = celery_worker_process(queues=("ingest",), include=("channels_ingest.adapters.amazon_sp.tasks",))

        outcome = receive_relay_mail(account.store)  # commits: the hook sends the task

        deadline = time.monotonic() + 30
        ticket = Ticket.objects.get(pk=outcome.ticket_id)
        while time.monotonic() < deadline and not ticket.orders.exists():
            time.sleep(0.2)
        assert ticket.orders.filter(external_id=ORDER_ID).exists(), worker.log()[-3000:]


@pytest.mark.django_db
def test_fetch_with_revoked_credentials_gives_up_and_the_account_shows_it():
    from channels_ingest.adapters.amazon_sp.client import forget_tokens

    with ShopServer() as server:
        server.route("POST", TOKEN_PATH, [Answer(400, {"error": "invalid_grant", "error_description": "revoked"})])
        account = amazon_account(server)
        forget_tokens()
        assert amazon_fetch_order_task(account.store_id, ORDER_ID, None, "amazon.es", False) is None
    account.refresh_from_db()
    assert account.status == "error" and "expired or revoked" in account.last_error
    assert not Order.objects.exists()
