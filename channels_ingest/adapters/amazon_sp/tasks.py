"""Celery tasks of the Amazon SP-API connection (thin: see sync.py and sqs.py)."""

from __future__ import annotations

from celery import shared_task

from channels_ingest.adapters.amazon_sp import sqs, sync
from channels_ingest.base import ChannelError
from channels_ingest.shop_http import ProviderError
from tickets.models import ChannelAccount


@shared_task(
    name="ingest.amazon_fetch_order",
    autoretry_for=(ProviderError,),
    retry_backoff=True,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
)
def amazon_fetch_order_task(store_id: int, order_id: str, ticket_id: int | None = None, marketplace: str = "",
                            refresh: bool = False) -> int | None:
    """Fetch an Amazon order (getOrder, getOrderItems) and link it to the ticket."""
    try:
        return sync.fetch_and_link(store_id, order_id, ticket_id, marketplace, refresh=refresh)
    except ChannelError as exc:  # ProviderError included
        if exc.permanent:
            return None  # unknown to Amazon, or credentials gone: the account shows it
        raise


@shared_task(name="ingest.poll_amazon_sqs", ignore_result=True)
def poll_amazon_sqs_task() -> int:
    """Beat: queue one SQS poll per active Amazon account with a queue."""
    accounts = [account.pk for account in sqs.accounts_to_poll() if sqs.queue_url(account)]
    for pk in accounts:
        poll_amazon_sqs_account_task.delay(pk)
    return len(accounts)


@shared_task(name="ingest.poll_amazon_sqs_account", ignore_result=True)
def poll_amazon_sqs_account_task(account_pk: int) -> int:
    account = ChannelAccount.objects.filter(pk=account_pk, status=ChannelAccount.Status.ACTIVE).first()
    if account is None:
        return 0
    try:
        return sqs.poll_account(account).stored
    except ChannelError:
        return 0  # recorded on the account; the next beat polls again
