"""Threading: where does an inbound message belong?

`ingest_message` takes one normalised message from any channel and:
1. recognises a second delivery of the same message (its id on the account) and stops there;
2. finds the customer through their channel identity (one person across channels: the same email
   address or phone number is the same customer whatever channel it arrives on), or creates them;
3. finds the ticket: the message it answers (email references), the provider's thread, a ticket
   reference in the subject ("[#123]") of this customer's ticket, an open ticket of the customer
   about the same order; otherwise a new ticket. A solved ticket reopens on a reply within
   HELPDESK_REOPEN_WINDOW_DAYS; after that a follow-up ticket starts, linked to the old one;
4. attaches the message (and its files), links the order, and publishes the live events.

Automatic replies and bounces join an existing ticket without reopening it, and never open one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from channels_ingest.base import CustomerHandle, NormalizedMessage
from tickets import actions
from tickets.events import (
    live_events_suppressed,
    publish,
    ticket_changed_payload,
    ticket_groups,
)
from tickets.models import (
    Attachment,
    ChannelAccount,
    ChannelIdentity,
    Customer,
    Message,
    Order,
    Ticket,
)
from tickets.routing import rules as routing_rules

logger = logging.getLogger(__name__)

TICKET_REFERENCE = re.compile(r"\[#(\d{1,12})\]")


@dataclass
class IngestOutcome:
    ticket_id: int | None = None
    message_id: int | None = None
    created_ticket: bool = False
    duplicate: bool = False
    skipped: str = ""

    def as_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value not in (None, False, "")}


def ingest_message(
    *, account: ChannelAccount, normalized: NormalizedMessage, event=None
) -> IngestOutcome:
    """Thread one inbound message. Call inside a transaction or not: it opens its own. Safe to
    call twice with the same message (the second call reports a duplicate)."""
    handle = normalized.customer
    # The actions below would each announce themselves; one message.added and one ticket.changed,
    # sent once the whole message is committed, tell the open pages everything.
    with transaction.atomic(savepoint=False), live_events_suppressed():
        # One customer's messages are threaded one at a time, so two messages of a new
        # conversation arriving together cannot open two tickets.
        _advisory_lock(lock_key(account, handle))
        if normalized.external_id:
            existing = Message.objects.filter(channel_account=account, external_id=normalized.external_id).first()
            if existing is not None:
                return IngestOutcome(ticket_id=existing.ticket_id, message_id=existing.pk, duplicate=True)
        if normalized.metadata.get("from_mailbox"):
            # Our own mail coming back (a copy, a loop): never a customer message.
            return IngestOutcome(skipped="sent from the helpdesk's own address")

        customer = resolve_customer(account=account, handle=handle, language=normalized.language)
        order = find_order(account=account, reference=normalized.order_reference)
        ticket = find_ticket(account=account, customer=customer, normalized=normalized, order=order)

        if ticket is None and normalized.is_auto_reply:
            return IngestOutcome(skipped="automatic reply with no ticket to join")
        created = False
        if ticket is not None and not normalized.is_auto_reply and _beyond_reopen_window(ticket):
            ticket = _open_ticket(account, customer, normalized, follow_up_of=ticket)
            created = True
        elif ticket is None:
            ticket = _open_ticket(account, customer, normalized)
            created = True

        message = actions.add_message(
            ticket_is_locked=created,
            ticket=ticket,
            direction=Message.Direction.INBOUND,
            author_customer=customer,
            body_text=normalized.body_text,
            body_html=normalized.body_html,
            visible_text=normalized.visible_text,
            subject=normalized.subject,
            channel=normalized.channel,
            external_id=normalized.external_id,
            external_thread_id=normalized.thread_key,
            created_at=event.received_at if event is not None else None,
            is_auto_reply=normalized.is_auto_reply,
            metadata=_message_metadata(normalized),
            inbound_event=event,
        )
        _store_attachments(message, normalized)
        if order is not None:
            actions.link_order(ticket=ticket, order=order)
        else:
            # No order reference from the channel: link the customer's own orders whose number
            # the message names ("where is my order #1001?").
            from tickets.orders import orders_mentioned

            text = f"{normalized.subject}\n{normalized.visible_text or normalized.body_text}"
            for mentioned in orders_mentioned(customer=customer, store=account.store, text=text)[:5]:
                actions.link_order(ticket=ticket, order=mentioned)
        if order is None and normalized.order_reference:
            # An Amazon order we do not know yet: fetched from the store's SP-API account and
            # linked to this ticket after the commit.
            from channels_ingest.adapters.amazon_sp.sync import fetch_unknown_order_later

            fetch_unknown_order_later(store_id=account.store_id, normalized=normalized, ticket_id=ticket.pk)
        if normalized.marketplace and not ticket.marketplace:
            Ticket.objects.filter(pk=ticket.pk).update(marketplace=normalized.marketplace)
            message.ticket.marketplace = normalized.marketplace
        # Automation rules (team, priority, tags, acknowledgement) commit with the message; the
        # round-robin assignment runs after the commit. No query when the store has no rules.
        trigger = routing_rules.TICKET_CREATED if created else routing_rules.CUSTOMER_REPLIED
        message.ticket = routing_rules.run_rules(message.ticket, trigger, message=message).ticket
        _announce_after_commit(message)
        return IngestOutcome(ticket_id=ticket.pk, message_id=message.pk, created_ticket=created)


def lock_key(account: ChannelAccount, handle: CustomerHandle) -> str:
    """The advisory lock under which one customer's messages on an account are threaded."""
    return f"ingest:{account.pk}:{handle.kind}:{handle.value}"


def _announce_after_commit(message: Message) -> None:
    ticket = message.ticket
    groups = ticket_groups(ticket)
    added = {"type": "message.added", "ticket_id": ticket.pk, "message_id": message.pk, "direction": message.direction}
    changed = ticket_changed_payload(ticket)

    def send() -> None:
        publish(groups, added)
        publish(groups, changed)

    transaction.on_commit(send)


def _advisory_lock(key: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


# --- Customers -------------------------------------------------------------------------------


def _surviving(customer: Customer) -> Customer:
    seen = set()
    while customer.merged_into_id is not None and customer.pk not in seen:
        seen.add(customer.pk)
        customer = customer.merged_into
    return customer


def resolve_customer(*, account: ChannelAccount, handle: CustomerHandle, language: str = "") -> Customer:
    """The customer behind a channel handle, created on first contact. An email address or phone
    number already known on another channel leads to the same person."""
    if not handle.value:
        # No address at all (some automatic mail): a customer of its own, with no identity to
        # match later mail against.
        return Customer.objects.create(name=handle.display_name[:200], language=language[:8])
    scoped_account = account if handle.scoped_to_account else None
    identity = (
        ChannelIdentity.objects.select_related("customer")
        .filter(kind=handle.kind, value=handle.value, account=scoped_account)
        .first()
    )
    if identity is not None:
        customer = _surviving(identity.customer)
        _fill_missing(customer, handle, language)
        return customer

    customer = None
    for kind, value in ((ChannelIdentity.Kind.EMAIL, handle.email.lower()), (ChannelIdentity.Kind.PHONE, handle.phone)):
        if value and (kind, value) != (handle.kind, handle.value):
            known = ChannelIdentity.objects.select_related("customer").filter(kind=kind, value=value, account=None).first()
            if known is not None:
                customer = _surviving(known.customer)
                break
    if customer is None:
        customer = Customer.objects.create(
            name=handle.display_name[:200],
            email=handle.email.lower() if handle.email else "",
            phone=handle.phone,
            language=language[:8],
        )
    _add_identity(customer, handle.kind, handle.value, scoped_account, handle.display_name)
    if handle.email and handle.kind != ChannelIdentity.Kind.EMAIL:
        _add_identity(customer, ChannelIdentity.Kind.EMAIL, handle.email.lower(), None, handle.display_name)
    if handle.phone and handle.kind not in (ChannelIdentity.Kind.PHONE,):
        _add_identity(customer, ChannelIdentity.Kind.PHONE, handle.phone, None, handle.display_name)
    _fill_missing(customer, handle, language)
    return customer


def _add_identity(customer: Customer, kind: str, value: str, account, display_name: str) -> None:
    # get_or_create takes its own savepoint for the insert; if someone else recorded the same
    # handle in the meantime, theirs stands.
    ChannelIdentity.objects.get_or_create(
        kind=kind, value=value, account=account,
        defaults={"customer": customer, "display_name": display_name[:200]},
    )


def _fill_missing(customer: Customer, handle: CustomerHandle, language: str) -> None:
    changed = []
    for field, value in (("name", handle.display_name), ("email", handle.email.lower()), ("phone", handle.phone),
                         ("language", language)):
        if value and not getattr(customer, field):
            setattr(customer, field, value[: Customer._meta.get_field(field).max_length])
            changed.append(field)
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])


# --- Orders and tickets -----------------------------------------------------------------------


def find_order(*, account: ChannelAccount, reference: str) -> Order | None:
    if not reference:
        return None
    # Shopify numbers read "#1001" and customers write "1001" (or the other way round).
    numbers = {reference, "#" + reference.lstrip("#"), reference.lstrip("#")}
    return (
        Order.objects.filter(store=account.store)
        .filter(Q(number__in=numbers) | Q(external_id=reference))
        .order_by("-placed_at")
        .first()
    )


def _follow_merges(ticket: Ticket | None) -> Ticket | None:
    seen = set()
    while ticket is not None and ticket.merged_into_id is not None and ticket.pk not in seen:
        seen.add(ticket.pk)
        ticket = ticket.merged_into
    return ticket


def find_ticket(
    *, account: ChannelAccount, customer: Customer, normalized: NormalizedMessage, order: Order | None
) -> Ticket | None:
    if normalized.references:
        answered = (
            Message.objects.select_related("ticket")
            .filter(channel_account=account, external_id__in=normalized.references)
            .order_by("-created_at")
            .first()
        )
        if answered is not None:
            return _follow_merges(answered.ticket)
    if normalized.thread_key:
        threaded = (
            Ticket.objects.filter(channel_account=account, external_thread_id=normalized.thread_key)
            .order_by("-created_at")
            .first()
        )
        if threaded is not None:
            return _follow_merges(threaded)
    match = TICKET_REFERENCE.search(normalized.subject or "")
    if match:
        # Only the customer's own ticket: a reference typed into a subject is no proof of identity.
        referenced = Ticket.objects.filter(pk=int(match.group(1)), customer=customer).first()
        if referenced is not None:
            return _follow_merges(referenced)
    if order is not None:
        same_order = Ticket.objects.open().filter(customer=customer, orders=order).order_by("-updated_at").first()
        if same_order is not None:
            return same_order
    return None


def _beyond_reopen_window(ticket: Ticket) -> bool:
    if ticket.status not in (Ticket.Status.SOLVED, Ticket.Status.CLOSED):
        return False
    ended = ticket.solved_at or ticket.closed_at or ticket.updated_at
    return timezone.now() - ended > timedelta(days=settings.HELPDESK_REOPEN_WINDOW_DAYS)


def _open_ticket(
    account: ChannelAccount, customer: Customer, normalized: NormalizedMessage, follow_up_of: Ticket | None = None
) -> Ticket:
    subject = TICKET_REFERENCE.sub("", normalized.subject or "").strip() or _subject_from_text(normalized)
    ticket = actions.create_ticket(
        store=account.store,
        channel=normalized.channel,
        channel_account=account,
        customer=customer,
        subject=subject,
        external_thread_id=normalized.thread_key,
        language=normalized.language,
    )
    changes = {}
    if follow_up_of is not None:
        changes["follow_up_of"] = follow_up_of
    if normalized.marketplace:
        changes["marketplace"] = normalized.marketplace
    if changes:
        for field, value in changes.items():
            setattr(ticket, field, value)
        ticket.save(update_fields=list(changes))
    return ticket


def _subject_from_text(normalized: NormalizedMessage) -> str:
    text = (normalized.visible_text or normalized.body_text).strip().splitlines()
    first = text[0] if text else ""
    return first[:80] + ("…" if len(first) > 80 else "")


def _message_metadata(normalized: NormalizedMessage) -> dict:
    metadata = dict(normalized.metadata)
    if normalized.references:
        metadata["references"] = normalized.references
    if normalized.sent_at is not None:
        metadata["sent_at"] = normalized.sent_at.isoformat()
    if normalized.auto_reply_reason:
        metadata["auto_reply_reason"] = normalized.auto_reply_reason
    if normalized.order_reference:
        metadata["order_reference"] = normalized.order_reference
    return metadata


def _store_attachments(message: Message, normalized: NormalizedMessage) -> None:
    too_big = []
    for item in normalized.attachments:
        if len(item.content) > settings.ATTACHMENT_MAX_BYTES:
            too_big.append(item.filename)
            continue
        Attachment.objects.create(
            message=message,
            file=ContentFile(item.content, name=_safe_filename(item.filename)),
            filename=item.filename[:255],
            content_type=(item.content_type or "application/octet-stream")[:150],
            size=len(item.content),
            content_id=item.content_id[:255],
        )
    if too_big:
        message.metadata["attachments_too_large"] = too_big
        message.save(update_fields=["metadata"])
        logger.warning("message %s: attachments over the size limit not stored: %s", message.pk, too_big)


def _safe_filename(name: str) -> str:
    cleaned = re.sub(r"[^\w.\- ]+", "_", name.replace("/", "_").replace("\\", "_")).strip(" .")
    return (cleaned or "attachment")[:120]
