"""Amazon orders into the helpdesk: fetch one order on demand (a buyer wrote about an order we
do not know yet), and record the buyer's cancellation request on the order and its tickets."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_ingest.adapters.amazon_sp.client import (
    CredentialsExpired,
    SpApiClient,
    mark_credentials_expired,
)
from channels_ingest.adapters.amazon_sp.normalize import ORDER_ID, AmazonOrder, order_from_v0
from channels_ingest.base import ChannelError
from tickets.models import ChannelAccount, Order, Ticket, TicketEvent

logger = logging.getLogger(__name__)

PROVIDER = "amazon"


def amazon_account_for(store_id: int, marketplace: str = "") -> ChannelAccount | None:
    """The store's active SP-API account; with several, the one selling on `marketplace`
    (amazon.es) when its settings name it."""
    accounts = list(
        ChannelAccount.objects.filter(store_id=store_id, provider=PROVIDER, status=ChannelAccount.Status.ACTIVE)
        .order_by("pk")
    )
    if marketplace:
        from channels_ingest.adapters.amazon_sp.regions import site_for

        for account in accounts:
            if marketplace in {site_for(mid) for mid in (account.settings or {}).get("marketplace_ids") or []}:
                return account
    return accounts[0] if accounts else None


def store_amazon_order(account: ChannelAccount, mapped: AmazonOrder, *, event=None):
    """Upsert the mapped order, remember its site and the buyer's cancellation request; returns
    the OrderOutcome. One transaction."""
    from tickets.orders import upsert_order

    with transaction.atomic():
        outcome = upsert_order(account=account, normalized=mapped.order, event=event)
        if mapped.site:
            Order.objects.filter(pk=outcome.order_id).exclude(marketplace_site=mapped.site).update(
                marketplace_site=mapped.site)
        if mapped.cancel_requested:
            order = Order.objects.get(pk=outcome.order_id)
            record_cancellation_request(order, at=mapped.order.updated_at, reason=mapped.cancel_reason)
    return outcome


def fetch_order(account: ChannelAccount, order_id: str, *, client: SpApiClient | None = None):
    """getOrder and getOrderItems, then store the order; returns the OrderOutcome. Raises
    ProviderError (not permanent: retry later; permanent: the order is unknown to Amazon or the
    credentials are gone, which the account then shows)."""
    client = client or SpApiClient(account)
    payload = client.get_order(order_id)
    items = client.get_order_items(order_id)
    outcome = store_amazon_order(account, order_from_v0(payload, items))
    ChannelAccount.objects.filter(pk=account.pk).update(last_sync_at=timezone.now())
    return outcome


def fetch_and_link(store_id: int, order_id: str, ticket_id: int | None = None, marketplace: str = "",
                   *, refresh: bool = False) -> int | None:
    """A buyer wrote about `order_id`, unknown when the message arrived: fetch it from the
    store's Amazon account and link it to the ticket. An order known meanwhile is only linked,
    unless `refresh` (a notification named it without its items and totals). Returns the
    order's pk (None: no Amazon account, or not an Amazon order id)."""
    from tickets import actions

    if not ORDER_ID.match(order_id or ""):
        return None
    existing = Order.objects.filter(store_id=store_id, external_id=order_id).first()
    if existing is None or refresh:
        account = amazon_account_for(store_id, marketplace)
        if account is None:
            return existing.pk if existing else None
        outcome = fetch_order(account, order_id)
        existing = Order.objects.get(pk=outcome.order_id)
    if ticket_id is not None:
        ticket = Ticket.objects.filter(pk=ticket_id, store_id=store_id).first()
        if ticket is not None:
            actions.link_order(ticket=ticket, order=existing)
    return existing.pk


def record_cancellation_request(order: Order, *, at: datetime | None = None, reason: str = "") -> list[int]:
    """The buyer asked Amazon to cancel `order`: mark the order and put it on the timeline of
    every ticket linked to it (once per ticket). Returns the tickets newly told."""
    at = at or timezone.now()
    fields = []
    if order.cancellation_requested_at is None:
        order.cancellation_requested_at = at
        fields.append("cancellation_requested_at")
    if reason and order.cancellation_reason != reason[:500]:
        order.cancellation_reason = reason[:500]
        fields.append("cancellation_reason")
    if fields:
        order.save(update_fields=[*fields, "updated_at"])
    message = _("The buyer asked Amazon to cancel order %(number)s.") % {"number": order.number}
    if reason:
        message += " " + _("Reason: %(reason)s") % {"reason": reason}
    told = []
    for ticket_id in order.tickets.values_list("pk", flat=True):
        _event, created = TicketEvent.objects.get_or_create(
            ticket_id=ticket_id,
            dedupe_key=f"amazon-cancel-request:{order.pk}",
            defaults={
                "kind": TicketEvent.Kind.ORDER_ACTION,
                "data": {
                    "action": "buyer_requested_cancel", "source": "amazon", "order_id": order.pk,
                    "number": order.number, "ok": True, "message": message[:2000], "reason": reason[:500],
                },
            },
        )
        if created:
            told.append(ticket_id)
    return told


def schedule_order_fetch(*, store_id: int, order_id: str, ticket_id: int | None, marketplace: str = "",
                         refresh: bool = False) -> None:
    """After the commit, ask a worker to fetch the order and link it to the ticket. A broker
    outage loses only the convenience: the agent can still link the order by hand."""

    def send() -> None:
        from channels_ingest.adapters.amazon_sp.tasks import amazon_fetch_order_task

        try:
            amazon_fetch_order_task.apply_async(
                args=[store_id, order_id, ticket_id, marketplace, refresh], retry=False)
        except Exception as exc:  # kombu raises several types for an unreachable broker
            logger.warning("could not queue the Amazon order fetch of %s: %s", order_id, exc)

    transaction.on_commit(send)


def wants_fetch(store_id: int) -> bool:
    """Whether the store has an Amazon account to ask (one cheap query)."""
    return ChannelAccount.objects.filter(
        store_id=store_id, provider=PROVIDER, status=ChannelAccount.Status.ACTIVE).exists()


def fetch_unknown_order_later(*, store_id: int, normalized, ticket_id: int) -> None:
    """Called while an inbound message is threaded: an Amazon relay message naming an order not
    known yet gets it fetched and linked after the commit (when the store has an Amazon account)."""
    if normalized.channel != "amazon" or not ORDER_ID.match(normalized.order_reference or ""):
        return
    if wants_fetch(store_id):
        schedule_order_fetch(store_id=store_id, order_id=normalized.order_reference, ticket_id=ticket_id,
                             marketplace=normalized.marketplace)


def check_connection(account: ChannelAccount) -> list[tuple[str, bool, str]]:
    """What an admin's "test" of the account reports: (check, ok, detail) for the LWA token
    exchange and the SQS queue. Asks Amazon for a new access token, reads the queue's attributes;
    changes nothing, except that refused credentials put the account in error."""
    from channels_ingest.adapters.amazon_sp import sqs  # sqs builds on this module

    results = []
    try:
        SpApiClient(account).access_token(force=True)
        results.append(("lwa", True, _("Login with Amazon accepted the refresh token.")))
    except ChannelError as exc:
        if isinstance(exc, CredentialsExpired):
            mark_credentials_expired(account, str(exc))
        results.append(("lwa", False, str(exc)))
    url = sqs.queue_url(account)
    if not url:
        results.append(("sqs", False, _("No SQS queue URL: order notifications are not read.")))
        return results
    try:
        attributes = sqs.sqs_client(account).get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        results.append(("sqs", True, _("The queue is readable; %(count)s notification(s) waiting.")
                        % {"count": attributes.get("ApproximateNumberOfMessages", "0")}))
    except Exception as exc:  # botocore raises many types: each one is the answer to show
        results.append(("sqs", False, f"SQS: {exc}"))
    return results
