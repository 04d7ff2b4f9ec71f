"""Historical lifetime value of customers: what they have spent, per currency.

Counted orders: every order of the customer except cancelled and fully refunded ones (their money
came back). A merged customer's orders belong to the survivor (`tickets.actions.merge_customers`
moves them). Amounts are never converted between currencies: a customer who bought in EUR and RON
has one value per currency.

Segments (high, medium, low spenders) compare a customer's total in a currency with thresholds set
per currency in the admin (`CustomerSegmentThresholds`), or `DEFAULT_THRESHOLDS`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Avg, Count, Max, Min, Sum
from django.utils.translation import gettext_lazy as _

from metrics.models import CustomerSegmentThresholds
from tickets.models import Order

EXCLUDED_STATUSES = (Order.Status.CANCELLED, Order.Status.REFUNDED)
DEFAULT_THRESHOLDS = (Decimal("500"), Decimal("100"))  # high from, medium from
SEGMENTS = {"high": _("High spenders"), "medium": _("Medium spenders"), "low": _("Low spenders")}
SEGMENT_OF_ONE = {"high": _("High spender"), "medium": _("Medium spender"), "low": _("Low spender")}


@dataclass(frozen=True)
class LifetimeValue:
    currency: str
    total: Decimal
    order_count: int
    average_order_value: Decimal
    first_order_at: dt.datetime
    last_order_at: dt.datetime
    segment: str

    @property
    def segment_label(self) -> str:
        return str(SEGMENT_OF_ONE[self.segment])


def counted_orders():
    return Order.objects.exclude(status__in=EXCLUDED_STATUSES)


def thresholds_for(currency: str) -> tuple[Decimal, Decimal]:
    row = CustomerSegmentThresholds.objects.filter(currency=currency).first()
    return (row.high_from, row.medium_from) if row else DEFAULT_THRESHOLDS


def segment_of(total: Decimal, thresholds: tuple[Decimal, Decimal]) -> str:
    high_from, medium_from = thresholds
    if total >= high_from:
        return "high"
    if total >= medium_from:
        return "medium"
    return "low"


def lifetime_value(customer, store_ids=None) -> list[LifetimeValue]:
    """The customer's lifetime value in each currency they bought in (largest first); [] without
    counted orders. With `store_ids` (see `tickets.access.visible_store_ids`), only their orders
    in those stores count."""
    orders = counted_orders().filter(customer=customer)
    if store_ids is not None:
        orders = orders.filter(store_id__in=store_ids)
    rows = (
        orders.values("currency")
        .annotate(spent=Sum("total"), orders=Count("id"), average=Avg("total"), first=Min("placed_at"),
                  last=Max("placed_at"))
        .order_by("-spent")
    )
    return [
        LifetimeValue(
            currency=row["currency"], total=row["spent"], order_count=row["orders"],
            average_order_value=Decimal(row["average"]).quantize(Decimal("0.01")),
            first_order_at=row["first"], last_order_at=row["last"],
            segment=segment_of(row["spent"], thresholds_for(row["currency"])),
        )
        for row in rows
    ]


def segment_summary(currency: str, store_ids=None, limit: int = 50) -> dict:
    """For one currency: the thresholds, the number of customers and their spend per segment, and
    the top `limit` customers of each segment (their orders in `store_ids` only, when given)."""
    from tickets.models import Customer

    high_from, medium_from = thresholds_for(currency)
    orders = counted_orders().filter(currency=currency, customer__isnull=False)
    if store_ids is not None:
        orders = orders.filter(store_id__in=store_ids)
    per_customer = orders.values("customer_id").annotate(
        total=Sum("total"), count=Count("id"), first=Min("placed_at"), last=Max("placed_at")
    ).order_by()
    inner, params = per_customer.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT CASE WHEN per.total >= %s THEN 'high' WHEN per.total >= %s THEN 'medium' ELSE 'low' END,
                       count(*), sum(per.total)
                FROM ({inner}) per GROUP BY 1""",
            [high_from, medium_from, *params],
        )
        counts = {segment: (customers, spend) for segment, customers, spend in cursor.fetchall()}
    bands = {
        "high": per_customer.filter(total__gte=high_from),
        "medium": per_customer.filter(total__gte=medium_from, total__lt=high_from),
        "low": per_customer.filter(total__lt=medium_from),
    }
    segments = []
    for key, band in bands.items():
        top = list(band.order_by("-total", "customer_id")[:limit])
        names = {c.pk: c for c in Customer.objects.filter(pk__in=[row["customer_id"] for row in top])}
        customers, spend = counts.get(key, (0, Decimal("0")))
        segments.append({
            "key": key, "label": SEGMENTS[key], "customers": customers, "spend": spend,
            "top": [{**row, "customer": names.get(row["customer_id"])} for row in top],
        })
    return {"currency": currency, "high_from": high_from, "medium_from": medium_from, "segments": segments}


def currencies(store_ids=None) -> list[str]:
    orders = counted_orders()
    if store_ids is not None:
        orders = orders.filter(store_id__in=store_ids)
    return sorted(set(orders.values_list("currency", flat=True).distinct()))
