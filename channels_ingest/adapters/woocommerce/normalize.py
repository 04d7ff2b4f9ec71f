"""WooCommerce REST API v3 resources into the normalised order. Order webhooks deliver exactly
the REST order resource: https://woocommerce.github.io/woocommerce-rest-api-docs/#orders

Times: the `*_gmt` fields are UTC without an offset. Money arrives as strings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from channels_ingest.adapters.shopify.normalize import money
from channels_ingest.base import (
    CustomerHandle,
    NormalizedOrder,
    NormalizedOrderLine,
    NormalizedRefund,
    NormalizedShipment,
    ParseError,
)

MARKETPLACE = "woocommerce"

ORDER_STATUS = {
    "pending": "pending",
    "on-hold": "pending",
    "failed": "pending",
    "checkout-draft": "pending",
    "processing": "processing",
    "completed": "shipped",
    "cancelled": "cancelled",
    "trash": "cancelled",
    "refunded": "refunded",
}

# Meta key of the WooCommerce Shipment Tracking extension (core WooCommerce has no tracking).
TRACKING_META = "_wc_shipment_tracking_items"


def identifier(value: Any, name: str) -> str:
    if isinstance(value, bool) or value in (None, "", 0):
        raise ParseError(f"{name} is missing")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return str(value).strip()
    raise ParseError(f"{name} is not an integer id: {value!r}")


def gmt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ParseError(f"not a timestamp: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def customer_handle(resource: dict) -> CustomerHandle | None:
    """For an order (billing details, `customer_id` 0 for a guest) or a customer resource."""
    billing = resource.get("billing") or {}
    email = _text(resource.get("email") or billing.get("email")).lower()
    first = _text(resource.get("first_name") or billing.get("first_name"))
    last = _text(resource.get("last_name") or billing.get("last_name"))
    name = " ".join(part for part in (first, last) if part)
    phone = _text(billing.get("phone"))
    phone = phone if phone.startswith("+") else ""
    customer_id = resource.get("customer_id") if "customer_id" in resource else resource.get("id")
    if isinstance(customer_id, int) and customer_id > 0:
        return CustomerHandle(kind="shop_customer", value=str(customer_id), display_name=name, email=email,
                              phone=phone, scoped_to_account=True)
    if email:
        return CustomerHandle(kind="email", value=email, display_name=name, email=email, phone=phone)
    return None


def _address(address: dict | None) -> dict:
    if not address:
        return {}
    renamed = {"address_1": "address1", "address_2": "address2", "postcode": "zip", "state": "province",
               "country": "country_code"}
    result = {}
    for key in ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                "country", "phone"):
        if address.get(key):
            result[renamed.get(key, key)] = address[key]
    name = " ".join(part for part in (_text(address.get("first_name")), _text(address.get("last_name"))) if part)
    if name:
        result["name"] = name
    return result


def _tracking(order: dict) -> list[NormalizedShipment]:
    shipments = []
    for meta in order.get("meta_data") or []:
        if meta.get("key") != TRACKING_META or not isinstance(meta.get("value"), list):
            continue
        for item in meta["value"]:
            number = _text(item.get("tracking_number"))
            if not number:
                continue
            shipped = item.get("date_shipped")
            shipments.append(NormalizedShipment(
                external_id=_text(item.get("tracking_id")) or number,
                carrier=_text(item.get("tracking_provider") or item.get("custom_tracking_provider")),
                tracking_number=number,
                tracking_url=_text(item.get("custom_tracking_link")),
                status="in_transit",
                shipped_at=datetime.fromtimestamp(int(shipped), tz=UTC) if str(shipped or "").isdigit() else None,
            ))
    return shipments


def line(item: dict) -> NormalizedOrderLine:
    quantity = int(item.get("quantity") or 0)
    total = money(item.get("total")) or Decimal("0")
    subtotal = money(item.get("subtotal")) or total
    return NormalizedOrderLine(
        external_id=identifier(item.get("id"), "line_items.id"),
        title=re.sub(r"&ndash;", "–", _text(item.get("name"))) or "?",
        quantity=quantity,
        sku=_text(item.get("sku")),
        unit_price=(subtotal / quantity) if quantity else subtotal,
        total=total,
    )


def order(resource: dict) -> NormalizedOrder:
    if not isinstance(resource, dict):
        raise ParseError("the order is not a JSON object")
    status = _text(resource.get("status"))
    total = money(resource.get("total"))
    shipping = money(resource.get("shipping_total"))
    tax = money(resource.get("total_tax"))
    subtotal = sum((money(item.get("subtotal")) or Decimal("0") for item in resource.get("line_items") or []),
                   Decimal("0"))
    paid = bool(resource.get("date_paid_gmt") or resource.get("date_paid"))
    payment = "refunded" if status == "refunded" else ("paid" if paid else "unpaid")
    refunds = [
        NormalizedRefund(
            external_id=identifier(item.get("id"), "refunds.id"),
            amount=abs(money(item.get("total")) or Decimal("0")),
            reason=_text(item.get("reason")),
        )
        for item in resource.get("refunds") or []
    ]
    return NormalizedOrder(
        marketplace=MARKETPLACE,
        external_id=identifier(resource.get("id"), "order.id"),
        number=_text(resource.get("number")) or str(resource.get("id")),
        customer=customer_handle(resource),
        status=ORDER_STATUS.get(status, "pending" if not paid else "processing"),
        payment_status=payment,
        currency=_text(resource.get("currency")),
        subtotal=subtotal,
        shipping_total=shipping,
        tax_total=tax,
        total=total,
        placed_at=gmt(resource.get("date_created_gmt")),
        updated_at=gmt(resource.get("date_modified_gmt")),
        billing_address=_address(resource.get("billing")),
        shipping_address=_address(resource.get("shipping")),
        lines=[line(item) for item in resource.get("line_items") or []],
        shipments=_tracking(resource),
        refunds=refunds,
    )


def _order_id_from_links(resource: dict) -> str:
    for link in (resource.get("_links") or {}).get("up") or []:
        match = re.search(r"/orders/(\d+)/?$", _text(link.get("href")))
        if match:
            return match.group(1)
    raise ParseError("a refund without the order it belongs to (_links.up)")


def refund_event(resource: dict) -> NormalizedOrder:
    """An order refund resource (POST /orders/<id>/refunds answers with it)."""
    lines = [
        {"line_external_id": str(item.get("id")), "quantity": abs(int(item.get("quantity") or 0)),
         "amount": str(abs(money(item.get("total")) or Decimal("0")))}
        for item in resource.get("line_items") or []
    ]
    return NormalizedOrder(
        marketplace=MARKETPLACE,
        external_id=_order_id_from_links(resource),
        is_complete=False,
        refunds=[NormalizedRefund(
            external_id=identifier(resource.get("id"), "refund.id"),
            amount=money(resource.get("amount")) or Decimal("0"),
            reason=_text(resource.get("reason")),
            created_at=gmt(resource.get("date_created_gmt")),
            lines=lines,
        )],
    )


def is_refund(resource: dict) -> bool:
    return "amount" in resource and "refunded_by" in resource


def is_note(resource: dict) -> bool:
    return "note" in resource and "customer_note" in resource and "line_items" not in resource
