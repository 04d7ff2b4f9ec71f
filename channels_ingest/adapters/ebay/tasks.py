"""Celery tasks of the eBay adapter (thin: see messages.py and orders.py)."""

from __future__ import annotations

from celery import shared_task

from channels_ingest.adapters.ebay import messages, orders
from channels_ingest.shop_http import ProviderError
from tickets.models import ChannelAccount


@shared_task(name="ingest.poll_ebay_messages", ignore_result=True)
def poll_ebay_messages_task() -> int:
    """Beat: queue one message poll per active eBay account."""
    accounts = list(messages.accounts_to_poll().values_list("pk", flat=True))
    for pk in accounts:
        poll_ebay_account_task.delay(pk)
    return len(accounts)


@shared_task(
    name="ingest.poll_ebay_account",
    autoretry_for=(ProviderError,),
    retry_backoff=True,
    retry_backoff_max=900,
    max_retries=5,
    ignore_result=True,
)
def poll_ebay_account_task(account_pk: int) -> int:
    account = ChannelAccount.objects.filter(pk=account_pk, provider="ebay", status=ChannelAccount.Status.ACTIVE).first()
    if account is None:
        return 0
    return messages.poll_messages(account).stored


@shared_task(name="ingest.sync_ebay_orders", ignore_result=True)
def sync_ebay_orders_task() -> int:
    """Beat: queue one Fulfillment API order pass per active eBay account."""
    accounts = list(messages.accounts_to_poll().values_list("pk", flat=True))
    for pk in accounts:
        sync_ebay_account_orders_task.delay(pk)
    return len(accounts)


@shared_task(
    name="ingest.sync_ebay_account_orders",
    autoretry_for=(ProviderError,),
    retry_backoff=True,
    retry_backoff_max=900,
    max_retries=5,
    ignore_result=True,
)
def sync_ebay_account_orders_task(account_pk: int) -> int:
    account = ChannelAccount.objects.filter(pk=account_pk, provider="ebay", status=ChannelAccount.Status.ACTIVE).first()
    if account is None:
        return 0
    return orders.sync_orders(account)["created"]
