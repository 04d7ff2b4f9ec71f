"""Back-fill and reconciliation of shop orders through the shops' APIs.

Webhooks are not enough: Shopify gives up on a delivery after 8 retries in 4 hours, WooCommerce
never retries and disables a webhook after 5 failures. A periodic pass asks each connected shop
for the orders changed since the last successful pass (with an overlap) and upserts them; an
order whose webhook never came appears then. Upserts are idempotent and never let an older
state overwrite a newer one, so the overlap costs nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from channels_ingest import shop_http
from channels_ingest.base import ChannelError
from tickets.models import ChannelAccount

logger = logging.getLogger(__name__)

SHOP_PROVIDERS = ("shopify", "woocommerce")
OVERLAP = timedelta(hours=1)
FIRST_PASS = timedelta(days=7)


@dataclass
class SyncReport:
    seen: int = 0
    created: int = 0
    updated: int = 0
    error: str = ""


def _client(account: ChannelAccount):
    if account.provider == "shopify":
        from channels_ingest.adapters.shopify.client import ShopifyClient

        return ShopifyClient(account)
    if account.provider == "woocommerce":
        from channels_ingest.adapters.woocommerce.client import WooCommerceClient

        return WooCommerceClient(account)
    raise ChannelError(f"{account.provider} has no order API", permanent=True)


def normalize(account: ChannelAccount, resource: dict):
    if account.provider == "shopify":
        from channels_ingest.adapters.shopify.normalize import order
    else:
        from channels_ingest.adapters.woocommerce.normalize import order
    return order(resource)


def backfill_order(account: ChannelAccount, external_id: str):
    """Fetch one order from the shop and upsert it; returns the OrderOutcome."""
    from tickets.orders import upsert_order

    resource = _client(account).get_order(external_id)
    return upsert_order(account=account, normalized=normalize(account, resource))


def reconcile_account(account: ChannelAccount, *, since: datetime | None = None) -> SyncReport:
    """One reconciliation pass over a shop. Records the outcome on the account (last sync, last
    error); wrong or expired credentials put the account in error. Raises ProviderError when the
    fault may pass (the task retries)."""
    from tickets.orders import upsert_order

    started = timezone.now()
    if since is None:
        since = (account.last_sync_at - OVERLAP) if account.last_sync_at else started - FIRST_PASS
    report = SyncReport()
    try:
        client = _client(account)
        pages = client.orders_updated_since(since) if account.provider == "shopify" else client.orders_modified_since(since)
        for resource in pages:
            outcome = upsert_order(account=account, normalized=normalize(account, resource))
            report.seen += 1
            report.created += int(outcome.created)
            report.updated += int(not outcome.created and not outcome.stale)
    except ChannelError as exc:
        report.error = str(exc)
        if isinstance(exc, shop_http.CredentialsRejected):
            from channels_ingest.accounts.health import mark_credentials_expired

            mark_credentials_expired(account, f"reconciliation: {exc}")
        else:
            ChannelAccount.objects.filter(pk=account.pk).update(
                last_error=f"{timezone.now():%Y-%m-%d %H:%M} reconciliation: {exc}"[:2000])
        if not exc.permanent:
            raise
        return report
    ChannelAccount.objects.filter(pk=account.pk).update(last_sync_at=started, last_error="")
    if report.created:
        logger.warning("reconciliation of %s found %s order(s) whose webhook never came", account.pk, report.created)
    return report


def accounts_to_reconcile():
    return ChannelAccount.objects.filter(provider__in=SHOP_PROVIDERS, status=ChannelAccount.Status.ACTIVE)
