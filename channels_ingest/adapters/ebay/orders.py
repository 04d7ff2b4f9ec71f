"""eBay orders through the Fulfillment API: https://developer.ebay.com/api-docs/sell/fulfillment/resources/methods

- getOrder: GET /sell/fulfillment/v1/order/{orderId}
- getOrders: GET /sell/fulfillment/v1/order?filter=lastmodifieddate:[from..to]&limit&offset,
  followed through its `next` link.

Calls carry the seller's OAuth user token: on 401 it is refreshed once and the call repeated; a
second 401 marks the account's credentials expired. Amounts are {"value": "12.34", "currency":
"EUR"} strings, read as Decimal; the order's marketplace comes from its lines'
listingMarketplaceId (EBAY_DE -> ebay.de).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import quote, urlencode, urlsplit

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from channels_ingest import shop_http
from channels_ingest.adapters.ebay import oauth
from channels_ingest.base import (
    ChannelError,
    CustomerHandle,
    NormalizedOrder,
    NormalizedOrderLine,
    NormalizedRefund,
    ParseError,
)
from tickets.models import ChannelAccount

MARKETPLACE_DOMAINS = {
    "EBAY_US": "ebay.com", "EBAY_MOTORS_US": "ebay.com", "EBAY_GB": "ebay.co.uk", "EBAY_DE": "ebay.de",
    "EBAY_AT": "ebay.at", "EBAY_CH": "ebay.ch", "EBAY_FR": "ebay.fr", "EBAY_IT": "ebay.it", "EBAY_ES": "ebay.es",
    "EBAY_NL": "ebay.nl", "EBAY_BE": "ebay.be", "EBAY_IE": "ebay.ie", "EBAY_PL": "ebay.pl", "EBAY_AU": "ebay.com.au",
    "EBAY_CA": "ebay.ca", "EBAY_HK": "ebay.com.hk", "EBAY_SG": "ebay.com.sg", "EBAY_MY": "ebay.com.my",
    "EBAY_PH": "ebay.ph", "EBAY_IN": "ebay.in",
}
CURSOR_SETTING = "orders_cursor"
OVERLAP = timedelta(hours=1)
FIRST_PASS = timedelta(days=7)
PAGE_SIZE = 200


def marketplace_domain(marketplace_id: str) -> str:
    return MARKETPLACE_DOMAINS.get(marketplace_id.upper(), marketplace_id.lower().replace("_", ".") or "ebay")


def _amount(value: dict | None, name: str) -> Decimal | None:
    if not value or value.get("value") in (None, ""):
        return None
    try:
        return Decimal(str(value["value"]))
    except InvalidOperation:
        raise ParseError(f"{name} is not an amount: {value.get('value')!r}") from None


def _date(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def _address(ship_to: dict | None) -> dict | None:
    if not ship_to:
        return None
    contact = ship_to.get("contactAddress") or {}
    return {
        "name": ship_to.get("fullName") or "",
        "company": ship_to.get("companyName") or "",
        "address1": contact.get("addressLine1") or "",
        "address2": contact.get("addressLine2") or "",
        "city": contact.get("city") or "",
        "province": contact.get("stateOrProvince") or "",
        "zip": contact.get("postalCode") or "",
        "country_code": contact.get("countryCode") or "",
        "phone": (ship_to.get("primaryPhone") or {}).get("phoneNumber") or "",
        "email": ship_to.get("email") or "",
    }


def _status(order: dict) -> str:
    payment = (order.get("orderPaymentStatus") or "").upper()
    fulfillment = (order.get("orderFulfillmentStatus") or "").upper()
    cancel = ((order.get("cancelStatus") or {}).get("cancelState") or "").upper()
    if cancel == "CANCELED":
        return "cancelled"
    if payment == "FULLY_REFUNDED":
        return "refunded"
    if payment == "PARTIALLY_REFUNDED":
        return "partially_refunded"
    if fulfillment == "FULFILLED":
        return "shipped"
    if fulfillment == "IN_PROGRESS":
        return "partially_shipped"
    if payment == "PAID":
        return "paid"
    return "pending"


def normalize_order(order: dict) -> NormalizedOrder:
    """A Fulfillment API order as a NormalizedOrder."""
    order_id = str(order.get("orderId") or "")
    if not order_id:
        raise ParseError("eBay order without orderId")
    lines = order.get("lineItems") or []
    marketplace_ids = [line.get("listingMarketplaceId") or line.get("purchaseMarketplaceId") or "" for line in lines]
    marketplace = marketplace_domain(next((value for value in marketplace_ids if value), "EBAY_US"))
    pricing = order.get("pricingSummary") or {}
    total = pricing.get("total") or {}
    buyer = order.get("buyer") or {}
    registration = buyer.get("buyerRegistrationAddress") or {}
    ship_to = next(
        ((step.get("shippingStep") or {}).get("shipTo") for step in order.get("fulfillmentStartInstructions") or []
         if (step.get("shippingStep") or {}).get("shipTo")), None,
    )
    username = str(buyer.get("username") or "")
    customer = None
    if username:
        customer = CustomerHandle(
            kind="ebay_user", value=username.lower(), display_name=registration.get("fullName") or username,
            email=(registration.get("email") or "").strip().lower(),
        )
    refunds = [
        NormalizedRefund(
            external_id=str(refund.get("refundId") or refund.get("refundReferenceId") or ""),
            amount=_amount(refund.get("amount"), "refund amount") or Decimal("0"),
            currency=(refund.get("amount") or {}).get("currency") or "",
            created_at=_date(refund.get("refundDate")),
        )
        for refund in (order.get("paymentSummary") or {}).get("refunds") or []
        if (refund.get("refundStatus") or "REFUNDED").upper() == "REFUNDED"
        and (refund.get("refundId") or refund.get("refundReferenceId"))
    ]
    return NormalizedOrder(
        marketplace=marketplace,
        external_id=order_id,
        number=str(order.get("legacyOrderId") or order_id),
        customer=customer,
        status=_status(order),
        payment_status=(order.get("orderPaymentStatus") or "").lower(),
        currency=total.get("currency") or "",
        subtotal=_amount(pricing.get("priceSubtotal"), "priceSubtotal"),
        shipping_total=_amount(pricing.get("deliveryCost"), "deliveryCost"),
        tax_total=_amount(pricing.get("tax"), "tax"),
        total=_amount(total, "total"),
        placed_at=_date(order.get("creationDate")),
        updated_at=_date(order.get("lastModifiedDate")),
        shipping_address=_address(ship_to),
        lines=[
            NormalizedOrderLine(
                external_id=str(line.get("lineItemId") or ""),
                title=str(line.get("title") or ""),
                quantity=int(line.get("quantity") or 1),
                sku=str(line.get("sku") or ""),
                unit_price=(_amount(line.get("lineItemCost"), "lineItemCost") or Decimal("0"))
                / max(int(line.get("quantity") or 1), 1),
                total=_amount(line.get("total"), "line total") or _amount(line.get("lineItemCost"), "lineItemCost")
                or Decimal("0"),
            )
            for line in lines
        ],
        refunds=refunds,
    )


class FulfillmentClient:
    def __init__(self, account: ChannelAccount, *, sleep=None) -> None:
        self.account = account
        self.base = oauth.api_base_url(account)
        self.sleep_kwargs = {"sleep": sleep} if sleep else {}

    def _get(self, url: str) -> dict:
        refreshed = False
        while True:
            token = oauth.refresh_user_token(self.account, **self.sleep_kwargs) if refreshed else \
                oauth.user_token(self.account, **self.sleep_kwargs)
            try:
                return shop_http.request("GET", url, headers={"Authorization": f"Bearer {token}"},
                                         **self.sleep_kwargs).data or {}
            except shop_http.CredentialsRejected as exc:
                if exc.status == 401 and not refreshed:
                    refreshed = True
                    continue
                if exc.status == 401:
                    oauth.mark_credentials_expired(self.account, exc.detail or str(exc))
                raise

    def get_order(self, order_id: str) -> dict:
        return self._get(f"{self.base}/sell/fulfillment/v1/order/{quote(order_id, safe='')}")

    def orders_modified_since(self, since: datetime, until: datetime | None = None) -> Iterator[dict]:
        window = f"lastmodifieddate:[{_iso(since)}..{_iso(until) if until else ''}]"
        url: str | None = (f"{self.base}/sell/fulfillment/v1/order?"
                           + urlencode({"filter": window, "limit": PAGE_SIZE, "offset": 0}))
        origin = urlsplit(self.base)[:2]
        while url:
            page = self._get(url)
            yield from page.get("orders") or []
            url = page.get("next") or None
            if url and urlsplit(url)[:2] != origin:
                # The token goes with each request: follow eBay's links to eBay only.
                raise ChannelError(f"pagination link leaves eBay: {url}", permanent=True)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def sync_orders(account: ChannelAccount, *, now: datetime | None = None) -> dict:
    """Upsert the orders changed since the last pass (with an overlap); records the outcome on
    the account. Raises ProviderError when the fault may pass."""
    from channels_ingest.adapters.ebay.messages import set_settings
    from tickets.orders import upsert_order

    now = now or timezone.now()
    cursor = parse_datetime((account.settings or {}).get(CURSOR_SETTING) or "")
    since = (cursor - OVERLAP) if cursor else now - FIRST_PASS
    report = {"seen": 0, "created": 0}
    try:
        for resource in FulfillmentClient(account).orders_modified_since(since):
            outcome = upsert_order(account=account, normalized=normalize_order(resource))
            report["seen"] += 1
            report["created"] += int(outcome.created)
    except (ChannelError, ParseError) as exc:
        ChannelAccount.objects.filter(pk=account.pk).exclude(status=ChannelAccount.Status.ERROR).update(
            last_error=f"{timezone.now():%Y-%m-%d %H:%M} order sync: {exc}"[:2000]
        )
        if isinstance(exc, ChannelError) and not exc.permanent:
            raise
        return report
    set_settings(account, **{CURSOR_SETTING: now.isoformat()})
    ChannelAccount.objects.filter(pk=account.pk).update(last_sync_at=now)
    return report


def backfill_order(account: ChannelAccount, order_id: str):
    from tickets.orders import upsert_order

    return upsert_order(account=account, normalized=normalize_order(FulfillmentClient(account).get_order(order_id)))
