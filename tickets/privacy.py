"""Data-protection requests a platform forwards on the customer's or the merchant's behalf
(Shopify's mandatory privacy webhooks, https://shopify.dev/docs/apps/build/privacy-law-compliance).

- data_request: the customer asked the shop for their data. The export (profile, identities,
  orders, conversations) is built at once and kept on the PrivacyRequest for an administrator to
  send to the merchant.
- customer_redact: erase the customer's personal data. Orders keep their numbers, lines and
  totals (the merchant's accounting needs them) but lose their addresses and their link to the
  person; the customer's profile, identities, message texts, attachments and the raw deliveries
  that carried them are erased.
- shop_redact: the shop uninstalled the app: everything that came from it is erased and the
  account is paused without credentials.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from channels_ingest.base import PrivacyRequest as PrivacyRequestData
from channels_ingest.models import InboundEvent
from tickets.models import (
    Attachment,
    ChannelAccount,
    ChannelIdentity,
    Customer,
    Message,
    Order,
    PrivacyRequest,
)

REDACTED = "[redacted]"
REDACTED_BODY = b'{"redacted": true}'


def handle_privacy_request(*, account: ChannelAccount, request: PrivacyRequestData) -> PrivacyRequest:
    with transaction.atomic():
        if request.kind == PrivacyRequest.Kind.SHOP_REDACT:
            return _redact_shop(account)
        customer = find_customer(account, request)
        if request.kind == PrivacyRequest.Kind.DATA_REQUEST:
            return PrivacyRequest.objects.create(
                account=account,
                kind=request.kind,
                customer=customer,
                external_request_id=request.request_id[:100],
                export=export_customer(customer, account, request.order_external_ids),
                summary=f"export built for {len(request.order_external_ids)} requested order(s)",
                completed_at=timezone.now(),
            )
        return _redact_customer(account, customer, request)


def find_customer(account: ChannelAccount, request: PrivacyRequestData) -> Customer | None:
    lookups = []
    if request.customer_external_id and account.provider == "ebay":
        # eBay names the user by their user id, which is global on eBay (an unscoped identity).
        lookups.append(Q(kind=ChannelIdentity.Kind.EBAY_USER, value=request.customer_external_id.lower(), account=None))
    elif request.customer_external_id:
        lookups.append(Q(kind=ChannelIdentity.Kind.SHOP_CUSTOMER, value=request.customer_external_id, account=account))
    if request.email:
        lookups.append(Q(kind=ChannelIdentity.Kind.EMAIL, value=request.email.strip().lower(), account=None))
    for lookup in lookups:
        identity = ChannelIdentity.objects.select_related("customer").filter(lookup).first()
        if identity is not None:
            return identity.customer
    return None


def _orders_of(account: ChannelAccount, customer: Customer | None, external_ids: list[str]):
    query = Q(channel_account=account, external_id__in=external_ids)
    if customer is not None:
        query |= Q(channel_account=account, customer=customer)
    return Order.objects.filter(query)


def export_customer(customer: Customer | None, account: ChannelAccount, external_ids: list[str]) -> dict:
    """Everything the helpdesk holds about the customer, as JSON-ready data."""
    orders = _orders_of(account, customer, external_ids).prefetch_related("lines", "shipments", "refunds")
    export: dict = {"customer": None, "identities": [], "orders": [], "messages": []}
    if customer is not None:
        export["customer"] = {
            "name": customer.name, "email": customer.email, "phone": customer.phone,
            "language": customer.language, "country": customer.country, "note": customer.note,
        }
        export["identities"] = [
            {"kind": identity.kind, "value": identity.value}
            for identity in customer.identities.order_by("kind", "value")
        ]
        export["messages"] = [
            {"ticket": message.ticket_id, "created_at": message.created_at.isoformat(),
             "direction": message.direction, "subject": message.subject, "text": message.body_text}
            for message in Message.objects.filter(ticket__customer=customer).order_by("created_at")
        ]
    for order in orders:
        export["orders"].append({
            "number": order.number, "external_id": order.external_id, "status": order.status,
            "currency": order.currency, "total": str(order.total), "placed_at": order.placed_at.isoformat(),
            "billing_address": order.billing_address, "shipping_address": order.shipping_address,
            "lines": [{"title": line.title, "sku": line.sku, "quantity": line.quantity, "total": str(line.total)}
                      for line in order.lines.all()],
            "shipments": [{"carrier": s.carrier, "tracking_number": s.tracking_number} for s in order.shipments.all()],
            "refunds": [{"amount": str(r.amount), "reason": r.reason} for r in order.refunds.all()],
        })
    return export


def _redact_customer(account: ChannelAccount, customer: Customer | None, request: PrivacyRequestData) -> PrivacyRequest:
    orders = _orders_of(account, customer, request.order_external_ids)
    order_ids = list(orders.values_list("external_id", flat=True))
    orders_redacted = orders.update(billing_address={}, shipping_address={}, customer=None)
    messages = 0
    if customer is not None:
        inbound = Message.objects.filter(author_customer=customer)
        Attachment.objects.filter(message__in=inbound).delete()
        messages = inbound.update(body_text=REDACTED, body_html="", visible_text=REDACTED, subject=REDACTED, metadata={})
        customer.identities.all().delete()
        Customer.objects.filter(pk=customer.pk).update(
            name=REDACTED, email="", phone="", note="", country="", time_zone=""
        )
    needles = [value for value in (request.email.strip().lower(), request.phone) if value]
    if account.provider == "ebay" and request.customer_external_id:
        needles.append(request.customer_external_id.lower())  # the user id in stored eBay messages
    needles += [f'"id":{external_id}' for external_id in order_ids]
    events = _redact_raw_events(account, needles)
    return PrivacyRequest.objects.create(
        account=account, kind=request.kind, customer=customer, external_request_id=request.request_id[:100],
        summary=(
            f"{orders_redacted} order(s) anonymised (totals kept), {messages} message(s) erased, "
            f"{events} raw delivery(ies) erased"
        ),
        completed_at=timezone.now(),
    )


def _redact_raw_events(account: ChannelAccount, needles: list[str]) -> int:
    """Blank the stored raw deliveries of this account that carry the customer's data."""
    if not needles:
        return 0
    encoded = [needle.encode() for needle in needles]
    erased = []
    for pk, body in InboundEvent.objects.filter(account=account).values_list("pk", "body").iterator(chunk_size=500):
        raw = bytes(body)
        compact = json.dumps(_loads(raw), separators=(",", ":")).encode() if raw.startswith(b"{") else raw
        if any(needle in raw.lower() or needle in compact for needle in encoded):
            erased.append(pk)
    InboundEvent.objects.filter(pk__in=erased).update(body=REDACTED_BODY, headers={})
    return len(erased)


def _loads(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _redact_shop(account: ChannelAccount) -> PrivacyRequest:
    orders = Order.objects.filter(channel_account=account)
    count = orders.count()
    orders.delete()
    ChannelIdentity.objects.filter(account=account).delete()
    events = InboundEvent.objects.filter(account=account).update(body=REDACTED_BODY, headers={})
    account.set_secrets({})
    account.status = ChannelAccount.Status.PAUSED
    account.save(update_fields=["secrets_encrypted", "status"])
    return PrivacyRequest.objects.create(
        account=account, kind=PrivacyRequest.Kind.SHOP_REDACT,
        summary=f"{count} order(s) deleted, {events} raw delivery(ies) erased, credentials removed",
        completed_at=timezone.now(),
    )
