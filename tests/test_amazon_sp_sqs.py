"""The SQS poller against a local SQS-compatible server on 127.0.0.1 (moto in server mode):
every corpus notification (webhooks/amazon-sp-api/) is turned into its order change or stored as
ignored with the reason; a notification received twice is stored once; a message is deleted
only after its event is committed; a poison message is kept as a failed event."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal

import boto3
import pytest
from django.conf import settings
from django.db import transaction

from channels_ingest.adapters.amazon_sp.sqs import poll_account
from channels_ingest.adapters.amazon_sp.tasks import poll_amazon_sqs_task
from channels_ingest.models import InboundEvent
from channels_ingest.registry import get_adapter
from tests.amazon_sp_helpers import amazon_account
from tests.factories import OrderFactory, TicketFactory
from tests.webhook_helpers import corpus_bytes
from tickets import actions
from tickets.models import Order, TicketEvent

pytestmark = pytest.mark.django_db

CANCEL = corpus_bytes("webhooks/amazon-sp-api/order-change-buyer-requested-cancel.json").decode()
OTHERS = {
    "fba-outbound-shipment-status.json": "FBA_OUTBOUND_SHIPMENT_STATUS: multi-channel fulfilment shipment status",
    "fulfillment-order-status.json": "FULFILLMENT_ORDER_STATUS: multi-channel fulfilment order status",
    "shipment-tracking-milestone-changed.json": "SHIPMENT_TRACKING_MILESTONE_CHANGED: tracking milestone",
}
CANCEL_ORDER = "903-8868176-2219830"


@pytest.fixture(scope="module")
def sqs_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def sqs(sqs_endpoint):
    return boto3.client("sqs", region_name="eu-west-1", endpoint_url=sqs_endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def queue(sqs):
    # A short visibility timeout: a message received but not deleted comes back within a second.
    return sqs.create_queue(QueueName=f"sp-api-{uuid.uuid4().hex[:12]}",
                            Attributes={"VisibilityTimeout": "1"})["QueueUrl"]


@pytest.fixture
def account(sqs_endpoint, queue):
    return amazon_account(sqs_queue_url=queue, sqs_endpoint_url=sqs_endpoint, sqs_region="eu-west-1")


def left_in_queue(sqs, queue) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_each_corpus_notification_is_an_order_change_or_ignored_with_its_reason(
        sqs, queue, account, django_capture_on_commit_callbacks):
    order = OrderFactory(store=account.store, marketplace="amazon", external_id=CANCEL_ORDER, number=CANCEL_ORDER,
                         status=Order.Status.PAID, total=Decimal("99.00"))
    ticket = TicketFactory(store=account.store, customer=order.customer, channel="amazon")
    actions.link_order(ticket=ticket, order=order)
    sqs.send_message(QueueUrl=queue, MessageBody=CANCEL)
    for name in OTHERS:
        sqs.send_message(QueueUrl=queue, MessageBody=corpus_bytes(f"webhooks/amazon-sp-api/{name}").decode())

    with django_capture_on_commit_callbacks(execute=True):
        report = poll_account(account, wait_seconds=1)

    assert (report.received, report.stored, report.failed, report.deleted) == (4, 4, 0, 4)
    assert left_in_queue(sqs, queue) == 0
    cancel = InboundEvent.objects.get(provider="amazon", event_id="ORDER_CHANGE:d0e9e693-c3ad-4373-979f-ed4ec98dd746")
    assert cancel.state == InboundEvent.State.PROCESSED and cancel.result["cancellation_requested"] is True
    ignored = InboundEvent.objects.filter(state=InboundEvent.State.IGNORED)
    reasons = sorted(event.result["reason"] for event in ignored)
    assert len(reasons) == 3
    assert all(reason.startswith(expected) for reason, expected in zip(reasons, sorted(OTHERS.values()), strict=True))

    order.refresh_from_db()
    assert order.cancellation_requested_at is not None
    assert order.cancellation_reason == "Buyer Requested Cancel"
    assert order.status == Order.Status.PAID  # "Unshipped": the cancellation is only requested
    assert order.marketplace_site == "amazon.com"
    assert order.total == Decimal("99.00")  # a notification carries no totals: they stay
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.ORDER_ACTION)
    assert event.data["action"] == "buyer_requested_cancel"
    assert event.data["message"] == f"The buyer asked Amazon to cancel order {CANCEL_ORDER}. Reason: Buyer Requested Cancel"


def test_a_notification_received_twice_is_stored_once(sqs, queue, account, django_capture_on_commit_callbacks):
    order = OrderFactory(store=account.store, marketplace="amazon", external_id=CANCEL_ORDER, number=CANCEL_ORDER)
    ticket = TicketFactory(store=account.store, customer=order.customer)
    actions.link_order(ticket=ticket, order=order)
    sqs.send_message(QueueUrl=queue, MessageBody=CANCEL)
    sqs.send_message(QueueUrl=queue, MessageBody=CANCEL)  # SQS delivers at least once
    with django_capture_on_commit_callbacks(execute=True):
        report = poll_account(account, wait_seconds=1)
    assert (report.received, report.stored, report.duplicates, report.deleted) == (2, 1, 1, 2)
    assert InboundEvent.objects.filter(provider="amazon").count() == 1
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ORDER_ACTION).count() == 1
    assert left_in_queue(sqs, queue) == 0


class Crash(Exception):
    pass


def test_the_message_is_deleted_only_after_the_commit(sqs, queue, account, django_capture_on_commit_callbacks):
    sqs.send_message(QueueUrl=queue, MessageBody=CANCEL)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Crash):
            with transaction.atomic():
                report = poll_account(account, wait_seconds=1)
                assert report.stored == 1 and InboundEvent.objects.filter(provider="amazon").exists()
                raise Crash  # the process dies before its transaction commits
    assert callbacks == [] and report.deleted == 0
    assert not InboundEvent.objects.filter(provider="amazon").exists()
    assert left_in_queue(sqs, queue) == 1  # still Amazon's to deliver again

    time.sleep(1.2)  # the visibility timeout passes: SQS delivers it again
    with django_capture_on_commit_callbacks(execute=True):
        again = poll_account(account, wait_seconds=1)
    assert (again.received, again.stored, again.deleted) == (1, 1, 1)
    assert Order.objects.filter(external_id=CANCEL_ORDER, cancellation_requested_at__isnull=False).exists()
    assert left_in_queue(sqs, queue) == 0


def test_a_poison_message_is_kept_as_a_failed_event(sqs, queue, account, django_capture_on_commit_callbacks):
    bad_json = sqs.send_message(QueueUrl=queue, MessageBody="this is not JSON {")["MessageId"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"hello": "world"}))
    broken = json.loads(CANCEL)
    broken["NotificationMetadata"]["NotificationId"] = "broken-order-id"
    broken["Payload"]["OrderChangeNotification"]["AmazonOrderId"] = "not-an-order"
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(broken))
    with django_capture_on_commit_callbacks(execute=True):
        report = poll_account(account, wait_seconds=1)
    assert (report.stored, report.failed, report.deleted) == (3, 3, 3)
    failed = {event.event_id: event for event in InboundEvent.objects.filter(state=InboundEvent.State.FAILED)}
    assert failed[f"sqs:{bad_json}"].error.startswith("ParseError: not JSON")
    assert failed[f"sqs:{bad_json}"].body_bytes == b"this is not JSON {"
    assert "not an Amazon order id" in failed["ORDER_CHANGE:broken-order-id"].error
    assert any("no NotificationType" in event.error for event in failed.values())
    assert not Order.objects.exists()
    assert left_in_queue(sqs, queue) == 0


def test_unknown_order_in_a_notification_is_created_and_fetched_after_commit(
        sqs, queue, account, django_capture_on_commit_callbacks):
    from tests.workers import isolated_queues, queued_task_calls

    sqs.send_message(QueueUrl=queue, MessageBody=CANCEL)
    with isolated_queues(["ingest"]) as queues:
        with django_capture_on_commit_callbacks(execute=True):
            poll_account(account, wait_seconds=1)
        calls = queued_task_calls(queues["ingest"])
    order = Order.objects.get(external_id=CANCEL_ORDER)
    assert order.cancellation_requested_at is not None and order.status == Order.Status.PAID
    assert ("ingest.amazon_fetch_order", [account.store_id, CANCEL_ORDER, None, "amazon.com", True]) in calls


def test_a_stored_notification_can_be_reprocessed_by_the_ingest_road(account):
    event = InboundEvent.objects.create(provider="amazon", account=account, event_id="n1", body=CANCEL.encode())
    [order] = get_adapter("amazon").parse(event)
    assert (order.external_id, order.status) == (CANCEL_ORDER, Order.Status.PAID)


def test_polling_is_on_the_beat_schedule(account):
    schedule = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["ingest.poll_amazon_sqs"]["schedule"] == 60.0
    assert poll_amazon_sqs_task.name == "ingest.poll_amazon_sqs"


def test_the_beat_task_polls_each_connected_account(sqs, queue, account, django_capture_on_commit_callbacks):
    from channels_ingest.adapters.amazon_sp.tasks import poll_amazon_sqs_account_task
    from tests.workers import isolated_queues, queued_task_calls

    amazon_account()  # no queue URL: not polled
    with isolated_queues(["ingest"]) as queues:
        assert poll_amazon_sqs_task() == 1
        assert queued_task_calls(queues["ingest"]) == [("ingest.poll_amazon_sqs_account", [account.pk])]

    sqs.send_message(QueueUrl=queue, MessageBody=CANCEL)
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_amazon_sqs_account_task(account.pk) == 1  # what the worker then does
    assert left_in_queue(sqs, queue) == 0
    account.refresh_from_db()
    assert account.last_event_at is not None and account.last_error == ""


def test_sqs_refusal_is_recorded_on_the_account(sqs_endpoint, account):
    from channels_ingest.adapters.amazon_sp.tasks import poll_amazon_sqs_account_task

    account.settings["sqs_queue_url"] = f"{sqs_endpoint}/123456789012/no-such-queue"
    account.save()
    assert poll_amazon_sqs_account_task(account.pk) == 0
    account.refresh_from_db()
    assert "SQS:" in account.last_error and "NonExistentQueue" in account.last_error


def test_notifications_posted_to_the_webhook_url_are_refused(client):
    from tests.webhook_helpers import post_webhook

    account = amazon_account()
    response = post_webhook(client, "amazon", account, CANCEL.encode(), "application/json")
    assert response.status_code == 401
    assert not InboundEvent.objects.exists() and not Order.objects.exists()


def test_connection_check_reports_lwa_and_the_queue(sqs, sqs_endpoint, queue):
    from channels_ingest.adapters.amazon_sp.sync import check_connection
    from tests.amazon_sp_helpers import TOKEN_PATH, TokenEndpoint
    from tests.shop_helpers import Answer, ShopServer

    with ShopServer() as server:
        server.route("POST", TOKEN_PATH, TokenEndpoint())
        account = amazon_account(server, sqs_queue_url=queue, sqs_endpoint_url=sqs_endpoint, sqs_region="eu-west-1")
        sqs.send_message(QueueUrl=queue, MessageBody=CANCEL)
        assert [(name, ok) for name, ok, _ in check_connection(account)] == [("lwa", True), ("sqs", True)]
        assert "1 notification(s) waiting" in check_connection(account)[1][2]

        server.route("POST", TOKEN_PATH, [Answer(400, {"error": "invalid_grant", "error_description": "revoked"})])
        account.settings["sqs_queue_url"] = f"{sqs_endpoint}/123456789012/no-such-queue"
        results = check_connection(account)
    assert [(name, ok) for name, ok, _ in results] == [("lwa", False), ("sqs", False)]
    assert "invalid_grant" in results[0][2]
    account.refresh_from_db()
    assert account.status == "error"
