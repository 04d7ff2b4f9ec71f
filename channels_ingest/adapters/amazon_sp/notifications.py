"""SP-API notifications (as they arrive in the seller's SQS queue) -> order changes.

Only ORDER_CHANGE carries order context for the helpdesk: an order's status change, or a buyer's
request (a cancellation request: `OrderChangeType` "BuyerRequestedChange", the items'
`IsBuyerRequestedCancel`). Every other type is stored and marked ignored with the reason.
Notifications are not signed: they come from the seller's own queue, whose AWS permissions are
the trust (SP-API developer guide, "Notifications API").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from channels_ingest.adapters.amazon_sp.normalize import V0_STATUS, AmazonOrder, _check_id, _when
from channels_ingest.adapters.amazon_sp.regions import site_for
from channels_ingest.base import NormalizedOrder, ParseError, Skipped
from tickets.models import Channel

# Types a seller may subscribe to that say nothing the ticket page shows, and why.
IGNORED_TYPES = {
    "FBA_OUTBOUND_SHIPMENT_STATUS": "multi-channel fulfilment shipment status (Amazon ships an order of "
                                    "another sales channel); the order's own channel reports it",
    "FULFILLMENT_ORDER_STATUS": "multi-channel fulfilment order status, keyed by the seller's fulfilment "
                                "order id rather than an Amazon order",
    "SHIPMENT_TRACKING_MILESTONE_CHANGED": "tracking milestone named only by an Amazon tracking number "
                                           "(AFTN), with no order id to attach it to",
}


@dataclass
class Notification:
    notification_id: str
    notification_type: str
    change: AmazonOrder | Skipped


def _get(data: dict, name: str):
    """SP-API notifications spell keys in PascalCase (older types) or camelCase (newer)."""
    if not isinstance(data, dict):
        return None
    if name in data:
        return data[name]
    return data.get(name[:1].lower() + name[1:])


def notification_id(data: dict) -> str:
    return str(_get(_get(data, "NotificationMetadata") or {}, "NotificationId") or "")


def event_key(data) -> str:
    """The stored event's unique key: the notification type and id ("ORDER_CHANGE:<uuid>"); ""
    when the body names no notification id."""
    ident = notification_id(data) if isinstance(data, dict) else ""
    return f"{_get(data, 'NotificationType') or ''}:{ident}" if ident else ""


def parse_notification(body: bytes | str) -> Notification:
    """The change one notification body describes; ParseError when it is not a notification."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except ValueError as exc:
        raise ParseError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not _get(data, "NotificationType"):
        raise ParseError("not an SP-API notification: no NotificationType")
    kind = str(_get(data, "NotificationType"))
    ident = notification_id(data)
    if kind == "ORDER_CHANGE":
        return Notification(ident, kind, order_change(_get(data, "Payload") or {}, _get(data, "EventTime")))
    reason = IGNORED_TYPES.get(kind, "a notification type the helpdesk does not use")
    return Notification(ident, kind, Skipped(f"{kind}: {reason}"))


def order_change(payload: dict, event_time=None) -> AmazonOrder:
    change = _get(payload, "OrderChangeNotification")
    if not isinstance(change, dict):
        raise ParseError("ORDER_CHANGE without an OrderChangeNotification")
    order_id = _check_id(_get(change, "AmazonOrderId"))
    trigger = _get(change, "OrderChangeTrigger") or {}
    summary = _get(change, "Summary") or {}
    status_text = str(_get(summary, "OrderStatus") or "")
    if status_text and status_text not in V0_STATUS:
        raise ParseError(f"unknown Amazon order status: {status_text!r}")
    changed_at = _when(_get(trigger, "TimeOfOrderChange")) or _when(event_time)
    normalized = NormalizedOrder(
        marketplace=Channel.AMAZON,
        external_id=order_id,
        number=order_id,
        # Only the fields the summary states; totals and items come from getOrder.
        status=V0_STATUS.get(status_text),
        placed_at=_when(_get(summary, "PurchaseDate")),
        updated_at=changed_at,
    )
    result = AmazonOrder(order=normalized, site=site_for(str(_get(summary, "MarketplaceId") or "")))
    reason = str(_get(trigger, "ChangeReason") or "")
    items = _get(summary, "OrderItems") or []
    item_cancel = [item for item in items if str(_get(item, "IsBuyerRequestedCancel")).lower() == "true"]
    if "cancel" in reason.lower() and str(_get(change, "OrderChangeType") or "") == "BuyerRequestedChange" or item_cancel:
        result.cancel_requested = True
        item_reasons = [str(_get(item, "BuyerRequestedCancelReason") or _get(item, "BuyerCancelReason") or "")
                        for item in item_cancel]
        result.cancel_reason = next((text for text in item_reasons if text), reason)
    return result
