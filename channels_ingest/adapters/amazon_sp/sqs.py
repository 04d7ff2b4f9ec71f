"""The SQS poller: SP-API notifications from the queue the seller owns.

Each received message is stored as an InboundEvent (unique on the notification type and id, so a second
delivery of the same notification is recognised), turned into its order change in the same
transaction, and deleted from the queue only after that transaction commits. SQS delivers at
least once: a message received twice, or received again because a worker died before deleting
it, is stored once. A message that cannot be understood is kept as a failed event (its body and
error for the admins) and deleted: nothing is lost, and it no longer blocks the queue.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from channels_ingest.adapters.amazon_sp import notifications
from channels_ingest.adapters.amazon_sp.regions import AWS_REGIONS, account_region
from channels_ingest.adapters.amazon_sp.sync import PROVIDER, store_amazon_order
from channels_ingest.base import ChannelError, ParseError, Skipped
from channels_ingest.models import InboundEvent
from tickets.models import ChannelAccount

logger = logging.getLogger(__name__)

_QUEUE_REGION = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/")


@dataclass
class PollReport:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    deleted: int = 0
    error: str = ""


def queue_url(account: ChannelAccount) -> str:
    return ((account.settings or {}).get("sqs_queue_url") or account.get_secrets().get("sqs_queue_url") or "").strip()


def sqs_client(account: ChannelAccount, *, read_timeout: int = 30):
    """A boto3 SQS client with the account's AWS keys. Region: the `sqs_region` setting, else
    the queue URL's, else that of the SP-API region. `sqs_endpoint_url` replaces AWS's endpoint
    (an SQS-compatible server)."""
    import boto3
    from botocore.config import Config

    options = account.settings or {}
    secrets = account.get_secrets()
    url = queue_url(account)
    match = _QUEUE_REGION.match(url)
    region = options.get("sqs_region") or (match.group(1) if match else "") or AWS_REGIONS[account_region(account)]
    return boto3.client(
        "sqs",
        region_name=region,
        endpoint_url=options.get("sqs_endpoint_url") or None,
        aws_access_key_id=secrets.get("aws_access_key_id") or None,
        aws_secret_access_key=secrets.get("aws_secret_access_key") or None,
        config=Config(connect_timeout=5, read_timeout=read_timeout, retries={"max_attempts": 3, "mode": "standard"}),
    )


def poll_account(account: ChannelAccount, *, wait_seconds: int | None = None, max_batches: int = 20,
                 client=None) -> PollReport:
    """Receive and store what waits in the account's queue, up to `max_batches` receives of up
    to 10 messages (each waiting up to `wait_seconds` for the first). Stops once a receive brings
    less than a full batch. Records the outcome on the account."""
    from botocore.exceptions import BotoCoreError, ClientError

    wait = settings.HELPDESK_AMAZON_SQS_WAIT_SECONDS if wait_seconds is None else wait_seconds
    report = PollReport()
    url = queue_url(account)
    if not url:
        report.error = "no SQS queue URL"
        return report
    client = client or sqs_client(account, read_timeout=wait + 10)
    try:
        for _batch in range(max_batches):
            answer = client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            )
            messages = answer.get("Messages") or []
            if not messages:
                break
            for message in messages:
                report.received += 1
                handle_message(account, message, client=client, queue=url, report=report)
            if len(messages) < 10:
                break  # drained for now: the next beat waits for more, no worker is held meanwhile
    except (BotoCoreError, ClientError) as exc:
        report.error = f"SQS: {exc}"
        ChannelAccount.objects.filter(pk=account.pk).update(
            last_error=f"{timezone.now():%Y-%m-%d %H:%M} {report.error}"[:2000])
        raise ChannelError(report.error, permanent=False) from exc
    if report.stored or report.duplicates:
        ChannelAccount.objects.filter(pk=account.pk).update(last_event_at=timezone.now(), last_error="")
    return report


def handle_message(account: ChannelAccount, message: dict, *, client, queue: str, report: PollReport) -> None:
    """Store (once) and apply one SQS message; its deletion is sent after the commit."""
    body = (message.get("Body") or "").encode()
    try:
        ident = notifications.event_key(json.loads(body))
    except (ValueError, AttributeError):
        ident = ""
    event_id = ident or f"sqs:{message.get('MessageId', '')}"
    receipt = message.get("ReceiptHandle")

    def delete() -> None:
        try:
            client.delete_message(QueueUrl=queue, ReceiptHandle=receipt)
            report.deleted += 1
        except Exception as exc:  # the message comes back after its visibility timeout: stored once anyway
            logger.warning("could not delete SQS message %s: %s", message.get("MessageId"), exc)

    with transaction.atomic():
        try:
            with transaction.atomic():
                event = InboundEvent.objects.create(
                    provider=PROVIDER, account=account, event_id=event_id[:255], body=body,
                    headers={"sqs-message-id": message.get("MessageId", "")},
                )
        except IntegrityError:
            report.duplicates += 1
        else:
            report.stored += 1
            apply_event(event)
            if event.state == InboundEvent.State.FAILED:
                report.failed += 1
        transaction.on_commit(delete)


def apply_event(event: InboundEvent) -> None:
    """Turn a stored notification into its order change and record the outcome on the event.
    A notification that cannot be understood marks the event failed; its partial work is undone."""
    event.attempts += 1
    event.processed_at = timezone.now()
    try:
        with transaction.atomic():
            parsed = notifications.parse_notification(event.body_bytes)
            if isinstance(parsed.change, Skipped):
                event.state = InboundEvent.State.IGNORED
                event.result = {"reason": parsed.change.reason}
            else:
                outcome = store_amazon_order(event.account, parsed.change, event=event)
                event.state = InboundEvent.State.PROCESSED
                event.result = {"records": [{"kind": "order", **outcome.as_dict()}]}
                if parsed.change.cancel_requested:
                    event.result["cancellation_requested"] = True
                if outcome.created:
                    # The notification names the order but not its items and totals: fetch them.
                    from channels_ingest.adapters.amazon_sp.sync import schedule_order_fetch

                    schedule_order_fetch(store_id=event.account.store_id, order_id=parsed.change.order.external_id,
                                         ticket_id=None, marketplace=parsed.change.site, refresh=True)
            event.error = ""
    except ParseError as exc:
        event.state = InboundEvent.State.FAILED
        event.error = f"ParseError: {exc}"
    except ChannelError as exc:
        event.state = InboundEvent.State.FAILED
        event.error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        from django.db import InterfaceError, OperationalError

        if isinstance(exc, (OperationalError, InterfaceError)):
            raise  # the database hiccuped: nothing is deleted, SQS delivers the message again
        logger.exception("Amazon notification %s failed", event.pk)
        event.state = InboundEvent.State.FAILED
        event.error = "".join(traceback.format_exception(exc))[-8000:]
    event.save(update_fields=["state", "attempts", "error", "processed_at", "result"])


def accounts_to_poll():
    return ChannelAccount.objects.filter(provider=PROVIDER, status=ChannelAccount.Status.ACTIVE)
