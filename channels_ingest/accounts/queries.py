"""Reads for the Channels page: the accounts per store with their health (three queries whatever
the number of accounts), an account's recent history, and its webhook URL."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count
from django.urls import reverse

from channels_ingest.accounts.health import AccountHealth
from channels_ingest.accounts.providers import spec_for
from channels_ingest.models import InboundEvent
from tickets.models import ChannelAccount, ChannelAccountEvent, Message, Store


@dataclass(frozen=True)
class StoreAccounts:
    store: Store
    rows: list[AccountHealth]


def accounts_by_store(*, show_removed: bool = False, store_ids=None) -> list[StoreAccounts]:
    accounts = ChannelAccount.objects.select_related("store").order_by("store__name", "store_id", "display_name", "pk")
    if not show_removed:
        accounts = accounts.exclude(status=ChannelAccount.Status.REMOVED)
    if store_ids is not None:
        accounts = accounts.filter(store_id__in=store_ids)
    accounts = list(accounts)
    ids = [account.pk for account in accounts]
    events: dict[tuple[int, str], int] = {}
    held: dict[int, int] = {}
    if ids:
        for row in (InboundEvent.objects.filter(account_id__in=ids, state__in=[
                InboundEvent.State.PENDING, InboundEvent.State.FAILED])
                .values("account_id", "state").annotate(count=Count("id")).order_by()):
            events[(row["account_id"], row["state"])] = row["count"]
        for row in (Message.objects.filter(channel_account_id__in=ids, direction=Message.Direction.OUTBOUND,
                                           delivery_state=Message.DeliveryState.QUEUED)
                    .values("channel_account_id").annotate(count=Count("id")).order_by()):
            held[row["channel_account_id"]] = row["count"]
    grouped: dict[int, list[AccountHealth]] = defaultdict(list)
    stores: dict[int, Store] = {}
    for account in accounts:
        stores[account.store_id] = account.store
        grouped[account.store_id].append(AccountHealth(
            account=account,
            waiting_events=events.get((account.pk, InboundEvent.State.PENDING), 0),
            failed_events=events.get((account.pk, InboundEvent.State.FAILED), 0),
            held_replies=held.get(account.pk, 0),
        ))
    return [StoreAccounts(store=stores[store_id], rows=rows) for store_id, rows in grouped.items()]


def account_history(account: ChannelAccount, limit: int = 20) -> list[ChannelAccountEvent]:
    return list(account.admin_events.select_related("actor").order_by("-created_at", "-pk")[:limit])


def webhook_url(account: ChannelAccount) -> str:
    """The URL to paste at the provider ("" for providers that post nothing)."""
    spec = spec_for(account.provider)
    if spec is not None and not spec.webhook:
        return ""
    path = reverse("channels_ingest:webhook", args=[account.provider, str(account.public_id)])
    return f"{settings.PUBLIC_URL}{path}"
