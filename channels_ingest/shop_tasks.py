"""Celery tasks of the shop order reconciliation (thin: see channels_ingest.shop_sync)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from channels_ingest import shop_sync
from channels_ingest.shop_http import ProviderError
from tickets.models import ChannelAccount


@shared_task(name="ingest.reconcile_shops", ignore_result=True)
def reconcile_shops_task() -> int:
    """Beat: queue one reconciliation per active shop account."""
    accounts = list(shop_sync.accounts_to_reconcile().values_list("pk", flat=True))
    for pk in accounts:
        reconcile_shop_task.delay(pk)
    return len(accounts)


@shared_task(
    name="ingest.reconcile_shop",
    autoretry_for=(ProviderError,),
    retry_backoff=True,
    retry_backoff_max=900,
    max_retries=5,
    ignore_result=True,
)
def reconcile_shop_task(account_pk: int) -> int:
    account = ChannelAccount.objects.filter(pk=account_pk, status=ChannelAccount.Status.ACTIVE).first()
    if account is None:
        return 0
    return shop_sync.reconcile_account(account).created


@shared_task(
    name="ingest.backfill_order",
    autoretry_for=(ProviderError,),
    retry_backoff=True,
    retry_backoff_max=900,
    max_retries=5,
    ignore_result=True,
)
def backfill_order_task(account_pk: int, external_id: str) -> bool:
    account = ChannelAccount.objects.filter(pk=account_pk, status=ChannelAccount.Status.ACTIVE).first()
    if account is None:
        return False
    try:
        shop_sync.backfill_order(account, external_id)
    except ProviderError as exc:
        if exc.permanent:
            return False  # the order is gone or the token is revoked: reconciliation reports it
        raise
    return True


def schedule_backfill(account: ChannelAccount, external_id: str) -> None:
    """After the commit, ask a worker to fetch the order from the shop (shops with an API only).
    A broker outage is no loss: the periodic reconciliation fetches it too."""
    if account.provider not in shop_sync.SHOP_PROVIDERS:
        return

    def send() -> None:
        try:
            backfill_order_task.apply_async(args=[account.pk, external_id], retry=False)
        except Exception:  # kombu raises several types for an unreachable broker
            pass

    transaction.on_commit(send)
