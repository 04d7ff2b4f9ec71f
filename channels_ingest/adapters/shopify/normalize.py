"""Shopify's order, refund, fulfillment and customer resources (webhook bodies and Admin REST API
answers have the same shape) into the normalised order.

https://shopify.dev/docs/api/admin-rest/latest/resources/order
Read with `shop_http.loads`: money arrives as strings or Decimals, ids as exact ints.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from channels_ingest.base import (
    CustomerHandle,
    NormalizedOrder,
    NormalizedOrderLine,
    NormalizedRefund,
    NormalizedShipment,
    ParseError,
)

MARKETPLACE = "shopify"

# fulfillment.shipment_status -> Shipment.Status
SHIPMENT_STATUS = {
    "label_printed": "pending",
    "label_purchased": "pending",
    "confirmed": "pending",
    "ready_for_pickup": "pending",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "attempted_delivery": "exception",
    "delivered": "delivered",
    "failure": "exception",
}


def identifier(value: Any, name: str) -> str:
    """A Shopify id as text. Ints are exact (never floats: the JSON reader keeps them as int)."""
    if isinstance(value, bool) or value is None or value == "":
        raise ParseError(f"{name} is missing")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    raise ParseError(f"{name} is not an integer id: {value!r}")


def money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):  # never produced by shop_http.loads; refuse rather than round
        raise ParseError("an amount was read as a float")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ParseError(f"not an amount: {value!r}") from None


def timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ParseError(f"not a timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise ParseError(f"timestamp without a time zone: {value!r}")
    return parsed


def _shop_amount(resource: dict, name: str) -> Decimal | None:
    money_set = resource.get(f"{name}_set") or {}
    shop_money = money_set.get("shop_money") or {}
    return money(shop_money.get("amount"))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def customer_handle(customer: dict | None, fallback_email: str = "") -> CustomerHandle | None:
    customer = customer or {}
    email = _text(customer.get("email") or fallback_email).lower()
    name = " ".join(part for part in (_text(customer.get("first_name")), _text(customer.get("last_name"))) if part)
    phone = _text(customer.get("phone"))
    phone = phone if phone.startswith("+") else ""  # only E.164 numbers identify a person
    if customer.get("id") not in (None, ""):
        return CustomerHandle(
            kind="shop_customer", value=identifier(customer["id"], "customer.id"), display_name=name,
            email=email, phone=phone, scoped_to_account=True,
        )
    if email:
        return CustomerHandle(kind="email", value=email, display_name=name, email=email, phone=phone)
    return None


def _address(address: dict | None) -> dict:
    if not address:
        return {}
    keep = ("name", "first_name", "last_name", "company", "address1", "address2", "city", "zip",
            "province", "province_code", "country", "country_code", "phone")
    return {key: address[key] for key in keep if address.get(key) not in (None, "")}


def order_status(order: dict) -> str:
    financial = _text(order.get("financial_status"))
    fulfillment = _text(order.get("fulfillment_status"))
    if order.get("cancelled_at"):
        return "cancelled"
    if financial == "refunded":
        return "refunded"
    if financial == "partially_refunded":
        return "partially_refunded"
    if fulfillment == "fulfilled":
        return "shipped"
    if fulfillment == "partial":
        return "partially_shipped"
    if financial in ("paid", "partially_paid"):
        return "paid"
    if financial == "voided":
        return "cancelled"
    return "pending"


def line(item: dict) -> NormalizedOrderLine:
    quantity = int(item.get("quantity") or 0)
    price = money(item.get("price")) or Decimal("0")
    discount = money(item.get("total_discount")) or Decimal("0")
    return NormalizedOrderLine(
        external_id=identifier(item.get("id"), "line_items.id"),
        title=_text(item.get("name") or item.get("title")) or "?",
        quantity=quantity,
        sku=_text(item.get("sku")),
        unit_price=price,
        total=price * quantity - discount,
    )


def shipment(fulfillment: dict) -> NormalizedShipment:
    urls = fulfillment.get("tracking_urls") or []
    numbers = fulfillment.get("tracking_numbers") or []
    status = SHIPMENT_STATUS.get(_text(fulfillment.get("shipment_status")), "pending")
    return NormalizedShipment(
        external_id=identifier(fulfillment.get("id"), "fulfillment.id"),
        carrier=_text(fulfillment.get("tracking_company")),
        tracking_number=_text(fulfillment.get("tracking_number") or (numbers[0] if numbers else "")),
        tracking_url=_text(fulfillment.get("tracking_url") or (urls[0] if urls else "")),
        status=status,
        shipped_at=timestamp(fulfillment.get("created_at")),
    )


def refund(resource: dict) -> NormalizedRefund:
    transactions = [
        item for item in resource.get("transactions") or []
        if item.get("kind") == "refund" and item.get("status") == "success"
    ]
    amount = sum((money(item.get("amount")) or Decimal("0") for item in transactions), Decimal("0"))
    currency = next((_text(item.get("currency")) for item in transactions if item.get("currency")), "")
    lines = [
        {
            "line_external_id": identifier(item.get("line_item_id"), "refund_line_items.line_item_id"),
            "quantity": int(item.get("quantity") or 0),
            "amount": str(money(item.get("subtotal")) or Decimal("0")),
        }
        for item in resource.get("refund_line_items") or []
    ]
    return NormalizedRefund(
        external_id=identifier(resource.get("id"), "refund.id"),
        amount=amount,
        currency=currency,
        reason=_text(resource.get("note")),
        created_at=timestamp(resource.get("processed_at") or resource.get("created_at")),
        lines=lines,
    )


def order(resource: dict) -> NormalizedOrder:
    """A full order resource."""
    if not isinstance(resource, dict):
        raise ParseError("the order is not a JSON object")
    shipping = _shop_amount(resource, "total_shipping_price")
    if shipping is None:
        shipping = sum((money(item.get("price")) or Decimal("0") for item in resource.get("shipping_lines") or []),
                       Decimal("0"))
    number = _text(resource.get("name")) or (f"#{resource['order_number']}" if resource.get("order_number") else "")
    return NormalizedOrder(
        marketplace=MARKETPLACE,
        external_id=identifier(resource.get("id"), "order.id"),
        number=number,
        customer=customer_handle(resource.get("customer"), _text(resource.get("email") or resource.get("contact_email"))),
        status=order_status(resource),
        payment_status=_text(resource.get("financial_status")),
        currency=_text(resource.get("currency")),
        subtotal=money(resource.get("subtotal_price")),
        shipping_total=shipping,
        tax_total=money(resource.get("total_tax")),
        total=money(resource.get("total_price")),
        placed_at=timestamp(resource.get("processed_at") or resource.get("created_at")),
        updated_at=timestamp(resource.get("updated_at")),
        billing_address=_address(resource.get("billing_address")),
        shipping_address=_address(resource.get("shipping_address")),
        lines=[line(item) for item in resource.get("line_items") or []],
        shipments=[shipment(item) for item in resource.get("fulfillments") or []],
        refunds=[refund(item) for item in resource.get("refunds") or []],
    )


def refund_event(resource: dict) -> NormalizedOrder:
    return NormalizedOrder(
        marketplace=MARKETPLACE,
        external_id=identifier(resource.get("order_id"), "refund.order_id"),
        is_complete=False,
        refunds=[refund(resource)],
    )


def fulfillment_event(resource: dict) -> NormalizedOrder:
    return NormalizedOrder(
        marketplace=MARKETPLACE,
        external_id=identifier(resource.get("order_id"), "fulfillment.order_id"),
        is_complete=False,
        shipments=[shipment(resource)],
    )
