"""SP-API order payloads -> NormalizedOrder.

Two documented shapes: the Orders API v0 (`getOrder` "payload" plus `getOrderItems`
"OrderItems", PascalCase), which the client calls, and the Orders API 2026-01-01 (`getOrder`
"order", camelCase, items inside). Money comes as strings ("Amount": "11.01") and becomes
Decimal; ids stay text. The buyer's email, when Amazon gives one at all, is the anonymised relay
address (…@marketplace.amazon.<tld>): it becomes the same "amazon_relay" identity the buyer's
relay emails carry, so their messages and their orders meet on one customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime

from channels_ingest.adapters.amazon_sp.regions import site_for
from channels_ingest.base import (
    CustomerHandle,
    NormalizedOrder,
    NormalizedOrderLine,
    NormalizedShipment,
    ParseError,
)
from channels_ingest.email.amazon import marketplace_for_address
from tickets.models import Channel, Order, Shipment

ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")

# Orders API v0 OrderStatus -> Order.Status
V0_STATUS = {
    "PendingAvailability": Order.Status.PENDING,  # a pre-order, not yet available
    "Pending": Order.Status.PENDING,  # placed, payment not yet authorised
    "Unshipped": Order.Status.PAID,  # payment authorised, ready to ship
    "PartiallyShipped": Order.Status.PARTIALLY_SHIPPED,
    "Shipped": Order.Status.SHIPPED,
    "InvoiceUnconfirmed": Order.Status.SHIPPED,  # shipped, invoice not yet confirmed (Brazil, China)
    "Canceled": Order.Status.CANCELLED,
    "Unfulfillable": Order.Status.CANCELLED,  # multi-channel fulfilment that cannot be fulfilled
}
# Orders API 2026-01-01 fulfillmentStatus -> Order.Status
V2026_STATUS = {
    "PENDING_AVAILABILITY": Order.Status.PENDING,
    "PENDING": Order.Status.PENDING,
    "UNSHIPPED": Order.Status.PAID,
    "PARTIALLY_SHIPPED": Order.Status.PARTIALLY_SHIPPED,
    "SHIPPED": Order.Status.SHIPPED,
    "CANCELLED": Order.Status.CANCELLED,
    "UNFULFILLABLE": Order.Status.CANCELLED,
}
PACKAGE_STATUS = {
    "IN_TRANSIT": Shipment.Status.IN_TRANSIT,
    "OUT_FOR_DELIVERY": Shipment.Status.OUT_FOR_DELIVERY,
    "DELIVERED": Shipment.Status.DELIVERED,
}


@dataclass
class AmazonOrder:
    """What the mapping gives: the order, the site it was placed on (amazon.es) and the buyer's
    cancellation request when the items carry one."""

    order: NormalizedOrder
    site: str = ""
    cancel_requested: bool = False
    cancel_reason: str = ""


def money(value) -> Decimal | None:
    """The Decimal of an SP-API Money object ({"Amount": "11.01", "CurrencyCode": "USD"} or
    {"amount", "currencyCode"}); None when absent."""
    if not isinstance(value, dict):
        return None
    raw = value.get("Amount", value.get("amount"))
    if raw in (None, ""):
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        raise ParseError(f"not an amount: {raw!r}") from None


def _currency(value) -> str:
    if not isinstance(value, dict):
        return ""
    return str(value.get("CurrencyCode") or value.get("currencyCode") or "").upper()[:3]


def _when(value) -> datetime | None:
    if not value:
        return None
    try:
        return parse_datetime(str(value))
    except ValueError:
        return None


def buyer_handle(email: str, name: str) -> CustomerHandle | None:
    """The buyer as a customer handle: their relay address (the identity their relay emails
    carry), a real email address when the seller may see one, or None."""
    email = (email or "").strip().lower()
    name = (name or "").strip()
    if not email:
        return None
    if marketplace_for_address(email):
        return CustomerHandle(kind="amazon_relay", value=email, display_name=name)
    return CustomerHandle(kind="email", value=email, display_name=name, email=email)


def _address(address: dict | None) -> dict | None:
    """An Amazon address under the field names every order address is stored with."""
    if not isinstance(address, dict) or not address:
        return None
    get = lambda *names: next((str(address[n]) for n in names if address.get(n)), "")  # noqa: E731
    line2 = ", ".join(part for part in (get("AddressLine2", "addressLine2"), get("AddressLine3", "addressLine3")) if part)
    return {
        "name": get("Name", "name"),
        "company": get("CompanyName", "companyName"),
        "address1": get("AddressLine1", "addressLine1"),
        "address2": line2,
        "city": get("City", "city"),
        "zip": get("PostalCode", "postalCode"),
        "province": get("StateOrRegion", "stateOrRegion"),
        "country_code": get("CountryCode", "countryCode"),
        "phone": get("Phone", "phone"),
    }


def _check_id(order_id) -> str:
    order_id = str(order_id or "").strip()
    if not ORDER_ID.match(order_id):
        raise ParseError(f"not an Amazon order id: {order_id!r}")
    return order_id


def order_from_v0(payload: dict, items: list[dict] | None = None) -> AmazonOrder:
    """Orders API v0: `payload` of getOrder, `items` the OrderItems of getOrderItems (None: not
    fetched, the stored lines stay)."""
    if not isinstance(payload, dict) or "AmazonOrderId" not in payload:
        raise ParseError("not an SP-API order: no AmazonOrderId")
    order_id = _check_id(payload["AmazonOrderId"])
    status_text = str(payload.get("OrderStatus") or "")
    if status_text and status_text not in V0_STATUS:
        raise ParseError(f"unknown Amazon order status: {status_text!r}")
    total = money(payload.get("OrderTotal"))
    buyer = payload.get("BuyerInfo") or {}
    normalized = NormalizedOrder(
        marketplace=Channel.AMAZON,
        external_id=order_id,
        number=order_id,
        customer=buyer_handle(buyer.get("BuyerEmail", ""), buyer.get("BuyerName", "")),
        status=V0_STATUS.get(status_text),
        payment_status=_payment_status(status_text),
        currency=_currency(payload.get("OrderTotal")),
        total=total,
        placed_at=_when(payload.get("PurchaseDate")),
        updated_at=_when(payload.get("LastUpdateDate")),
        shipping_address=_address(payload.get("ShippingAddress")),
    )
    result = AmazonOrder(order=normalized, site=site_for(payload.get("MarketplaceId", "")))
    if items is not None:
        _apply_v0_items(result, items)
    return result


def _payment_status(status_text: str) -> str:
    if status_text in ("Pending", "PendingAvailability"):
        return "pending"
    if status_text in ("Canceled", "Unfulfillable"):
        return "voided"
    return "paid" if status_text else ""


def _apply_v0_items(result: AmazonOrder, items: list[dict]) -> None:
    normalized = result.order
    lines = []
    subtotal = shipping = tax = Decimal("0")
    for item in items:
        quantity = int(item.get("QuantityOrdered") or 0)
        # ItemPrice is the price of the whole line (the unit price times the quantity).
        line_total = money(item.get("ItemPrice")) or Decimal("0")
        unit = (line_total / quantity).quantize(Decimal("0.01")) if quantity else line_total
        lines.append(NormalizedOrderLine(
            external_id=str(item.get("OrderItemId") or ""),
            title=str(item.get("Title") or item.get("ASIN") or ""),
            quantity=quantity,
            sku=str(item.get("SellerSKU") or ""),
            unit_price=unit,
            total=line_total,
        ))
        subtotal += line_total
        shipping += money(item.get("ShippingPrice")) or Decimal("0")
        tax += (money(item.get("ItemTax")) or Decimal("0")) + (money(item.get("ShippingTax")) or Decimal("0"))
        cancel = item.get("BuyerRequestedCancel") or {}
        if str(cancel.get("IsBuyerRequestedCancel", "")).lower() == "true":
            result.cancel_requested = True
            result.cancel_reason = result.cancel_reason or str(cancel.get("BuyerCancelReason") or "")
        if not normalized.currency:
            normalized.currency = _currency(item.get("ItemPrice"))
    normalized.lines = lines
    normalized.subtotal = subtotal
    normalized.shipping_total = shipping
    normalized.tax_total = tax
    if normalized.total is None and lines:
        normalized.total = subtotal + shipping + tax


def order_from_v2026(order: dict) -> AmazonOrder:
    """Orders API 2026-01-01 getOrder's `order`."""
    if not isinstance(order, dict) or "orderId" not in order:
        raise ParseError("not an SP-API order: no orderId")
    order_id = _check_id(order["orderId"])
    fulfillment = order.get("fulfillment") or {}
    status_text = str(fulfillment.get("fulfillmentStatus") or "")
    if status_text and status_text not in V2026_STATUS:
        raise ParseError(f"unknown Amazon fulfillment status: {status_text!r}")
    proceeds = order.get("proceeds") or {}
    breakdown = {entry.get("type"): money(entry.get("subtotal")) for entry in proceeds.get("breakdowns") or []}
    buyer = order.get("buyer") or {}
    lines = []
    for item in order.get("orderItems") or []:
        product = item.get("product") or {}
        quantity = int(item.get("quantityOrdered") or 0)
        unit = money((product.get("price") or {}).get("unitPrice")) or Decimal("0")
        lines.append(NormalizedOrderLine(
            external_id=str(item.get("orderItemId") or ""),
            title=str(product.get("title") or product.get("asin") or ""),
            quantity=quantity,
            sku=str(product.get("sellerSku") or ""),
            unit_price=unit,
            total=unit * quantity,
        ))
    shipments = []
    for package in order.get("packages") or []:
        status = PACKAGE_STATUS.get(str((package.get("packageStatus") or {}).get("status") or ""), Shipment.Status.PENDING)
        shipments.append(NormalizedShipment(
            external_id=str(package.get("packageReferenceId") or ""),
            carrier=str(package.get("carrier") or ""),
            tracking_number=str(package.get("trackingNumber") or ""),
            status=status,
            shipped_at=_when(package.get("shipTime")),
        ))
    sales_channel = order.get("salesChannel") or {}
    normalized = NormalizedOrder(
        marketplace=Channel.AMAZON,
        external_id=order_id,
        number=order_id,
        customer=buyer_handle(buyer.get("buyerEmail", ""), buyer.get("buyerName", "")),
        status=V2026_STATUS.get(status_text),
        payment_status="voided" if status_text in ("CANCELLED", "UNFULFILLABLE") else ("paid" if status_text not in ("", "PENDING", "PENDING_AVAILABILITY") else "pending"),
        currency=_currency(proceeds.get("grandTotal")),
        subtotal=breakdown.get("ITEM"),
        shipping_total=breakdown.get("SHIPPING"),
        tax_total=breakdown.get("TAX"),
        total=money(proceeds.get("grandTotal")),
        placed_at=_when(order.get("createdTime")),
        updated_at=_when(order.get("lastUpdatedTime")),
        shipping_address=_address((order.get("recipient") or {}).get("deliveryAddress")),
        lines=lines,
        shipments=shipments,
    )
    site = site_for(sales_channel.get("marketplaceId", "")) or str(sales_channel.get("marketplaceName") or "").lower()
    return AmazonOrder(order=normalized, site=site)


def order_from_document(document: dict, items: list[dict] | None = None) -> AmazonOrder:
    """Any documented getOrder answer: v0 ({"payload": {...}}) or 2026-01-01 ({"order": {...}}).
    Anything else (a Messaging API answer, an error) is refused with the reason."""
    if not isinstance(document, dict):
        raise ParseError("not an SP-API order: not a JSON object")
    if isinstance(document.get("payload"), dict) and "AmazonOrderId" in document["payload"] \
            and "OrderItems" not in document["payload"]:
        return order_from_v0(document["payload"], items)
    if isinstance(document.get("order"), dict):
        return order_from_v2026(document["order"])
    if "_links" in document or "_embedded" in document:
        raise ParseError("not an SP-API order: a Messaging API answer (the actions allowed on an order)")
    if isinstance(document.get("payload"), dict) and "OrderItems" in document["payload"]:
        raise ParseError("not an SP-API order: an order's items alone (getOrderItems) belong with their getOrder")
    raise ParseError("not an SP-API order")
