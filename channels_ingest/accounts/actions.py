"""What an admin does to a connected channel account: connect, change, test, pause, resume and
remove. Plain functions (the Channels page, commands and tests call them); each one writes the
change and a `ChannelAccountEvent` (who, when, what; never a secret value) in one transaction.

Pause and resume, as a retailer paying for the product expects them:
- a paused account stops talking to its provider: no polling (IMAP, eBay, Amazon SQS), no order
  reconciliation or back-fill, no replies sent and no order actions. Replies written meanwhile
  stay queued with the reason shown on the ticket, and go out on resume;
- webhooks to a paused account are still checked and stored (the provider is answered 200, so it
  neither retries for hours nor disables the webhook), and are processed on resume. Nothing is lost.

Remove is a disconnect that keeps history: the account row stays (its inbound events, messages
and orders point at it), its secrets are wiped, it leaves the page's list (a filter shows it),
webhooks to it are refused with 410 and stored nowhere, and nothing polls it any more. Events
still waiting are marked ignored with the reason; replies still queued fail with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_ingest.accounts.connection import ConnectionCheck, check_connection
from channels_ingest.accounts.providers import EXTERNAL_ID, SECRET, SETTING, spec_for
from tickets.models import ChannelAccount, ChannelAccountEvent, Message, Store

logger = logging.getLogger(__name__)

Status = ChannelAccount.Status
Kind = ChannelAccountEvent.Kind

# Why a reply waits: stored on the message (metadata["held"]) and shown, translated, on the ticket.
HELD_PAUSED = "account_paused"


class AccountActionRefused(Exception):
    """The action does not apply to the account in its present state; the message says why."""


@dataclass(frozen=True)
class Resumed:
    events: int  # waiting inbound events queued for processing
    replies: int  # held replies queued for sending


def _record(account: ChannelAccount, actor, kind: str, **data: Any) -> ChannelAccountEvent:
    return ChannelAccountEvent.objects.create(account=account, actor=actor, kind=kind, data=data)


def _split(provider: str, values: dict[str, Any]) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """The form's cleaned values by destination: external id, settings, secrets (empty secrets
    are left out: "keep the one set")."""
    spec = spec_for(provider)
    if spec is None:
        raise AccountActionRefused(_("Unknown provider %(provider)s.") % {"provider": provider})
    external_id = None
    settings: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for field in spec.fields:
        if field.name not in values:
            continue
        value = values[field.name]
        if field.where == EXTERNAL_ID:
            external_id = (value or "").strip()
        elif field.where == SETTING:
            settings[field.name] = value
        elif field.where == SECRET and value not in (None, ""):
            secrets[field.name] = value
    return external_id, settings, secrets


def connect_account(*, store: Store, provider: str, display_name: str, values: dict[str, Any], actor) -> ChannelAccount:
    """Create an account of `provider` for `store` from the connect form's values."""
    spec = spec_for(provider)
    if spec is None:
        raise AccountActionRefused(_("Unknown provider %(provider)s.") % {"provider": provider})
    external_id, settings, secrets = _split(provider, values)
    settings = {key: value for key, value in settings.items() if value not in (None, "", [])}
    with transaction.atomic():
        account = ChannelAccount(
            store=store, provider=provider, channel=spec.channel, display_name=display_name.strip(),
            external_id=external_id or "", settings=settings,
        )
        account.set_secrets(secrets)
        account.save()
        _apply_provider_defaults(account)
        _record(account, actor, Kind.CONNECTED, provider=provider, secrets_set=sorted(secrets))
    return account


def _apply_provider_defaults(account: ChannelAccount) -> None:
    """eBay hashes the deletion endpoint URL it was given: without one of its own, the account
    uses the webhook URL the page shows (HELPDESK_PUBLIC_URL), not whatever host a request names."""
    if account.provider == "ebay" and not (account.settings or {}).get("deletion_endpoint_url"):
        from channels_ingest.accounts.queries import webhook_url

        account.settings = {**(account.settings or {}), "deletion_endpoint_url": webhook_url(account)}
        account.save(update_fields=["settings"])


def update_account(*, account: ChannelAccount, display_name: str, values: dict[str, Any], actor) -> list[str]:
    """Apply the edit form: settings replaced by the form's, secrets replaced only where a new value
    was typed. New secrets clear the "credentials expired" mark. Returns the names changed."""
    external_id, settings, new_secrets = _split(account.provider, values)
    with transaction.atomic():
        account = ChannelAccount.objects.select_for_update().get(pk=account.pk)
        if account.status == Status.REMOVED:
            raise AccountActionRefused(_("This account was removed; connect it again instead."))
        changed = []
        if display_name.strip() and display_name.strip() != account.display_name:
            account.display_name = display_name.strip()
            changed.append("display_name")
        if external_id is not None and external_id != account.external_id:
            account.external_id = external_id
            changed.append("external_id")
        merged = dict(account.settings or {})
        for key, value in settings.items():
            if value in (None, "", []):
                if key in merged:
                    merged.pop(key)
                    changed.append(key)
            elif merged.get(key) != value:
                merged[key] = value
                changed.append(key)
        account.settings = merged
        if new_secrets:
            stored = account.get_secrets()
            stored.update(new_secrets)
            account.set_secrets(stored)
            changed.extend(sorted(new_secrets))
            if account.credentials_expired_at is not None or account.status == Status.ERROR:
                account.credentials_expired_at = None
                account.last_error = ""
                if account.status == Status.ERROR:
                    account.status = Status.ACTIVE
        account.save()
        _apply_provider_defaults(account)
        _forget_cached(account)
        _record(account, actor, Kind.UPDATED, changed=changed)
    _forget_client_tokens()
    return changed


def test_account(*, account: ChannelAccount, actor) -> ConnectionCheck:
    """Call the provider once (see channels_ingest.accounts.connection) and record the outcome."""
    if account.status == Status.REMOVED:
        raise AccountActionRefused(_("This account was removed."))
    result = check_connection(account)
    _record(account, actor, Kind.TESTED, ok=result.ok, message=result.message[:2000])
    return result


def pause_account(*, account: ChannelAccount, actor) -> None:
    with transaction.atomic():
        account = ChannelAccount.objects.select_for_update().get(pk=account.pk)
        if account.status == Status.REMOVED:
            raise AccountActionRefused(_("This account was removed."))
        if account.status == Status.PAUSED:
            return
        previous = account.status
        account.status = Status.PAUSED
        account.paused_at = timezone.now()
        account.save(update_fields=["status", "paused_at"])
        _forget_cached(account)
        _record(account, actor, Kind.PAUSED, previous_status=previous)


def resume_account(*, account: ChannelAccount, actor) -> Resumed:
    """Active again (or Error, when its credentials were refused meanwhile); what waited is queued
    after the commit: the stored inbound events for processing, the held replies for sending."""
    from channels_ingest.models import InboundEvent

    with transaction.atomic():
        account = ChannelAccount.objects.select_for_update().get(pk=account.pk)
        if account.status != Status.PAUSED:
            return Resumed(0, 0)
        account.status = Status.ERROR if account.credentials_expired_at else Status.ACTIVE
        account.paused_at = None
        account.save(update_fields=["status", "paused_at"])
        _forget_cached(account)
        events = list(
            InboundEvent.objects.filter(account=account, state=InboundEvent.State.PENDING)
            .order_by("received_at").values_list("pk", flat=True)
        )
        replies = list(
            Message.objects.filter(channel_account=account, direction=Message.Direction.OUTBOUND,
                                   delivery_state=Message.DeliveryState.QUEUED)
            .order_by("created_at", "pk").values_list("pk", flat=True)
        )
        _release_held(replies)
        _record(account, actor, Kind.RESUMED, waiting_events=len(events), held_replies=len(replies))
        transaction.on_commit(lambda: _queue_after_resume(events, replies))
    return Resumed(len(events), len(replies))


def _release_held(message_ids: list[int]) -> None:
    for message in Message.objects.filter(pk__in=message_ids).only("pk", "metadata"):
        metadata = dict(message.metadata or {})
        if metadata.pop("held", None) is not None:
            Message.objects.filter(pk=message.pk).update(metadata=metadata)


def _queue_after_resume(events: list[int], replies: list[int]) -> None:
    from channels_ingest.actions import enqueue_processing
    from channels_ingest.outbound import dispatch_queued_message

    for pk in events:
        if not enqueue_processing(pk):
            break  # broker down: the sweeper queues them
    for pk in replies:
        if not dispatch_queued_message(pk):
            break  # broker down: requeue_stuck_outbound sends them


def remove_account(*, account: ChannelAccount, actor) -> None:
    """Disconnect, keeping history (see the module docstring)."""
    from channels_ingest.models import InboundEvent

    with transaction.atomic():
        account = ChannelAccount.objects.select_for_update().get(pk=account.pk)
        if account.status == Status.REMOVED:
            return
        previous = account.status
        account.status = Status.REMOVED
        account.removed_at = timezone.now()
        account.secrets_encrypted = ""
        account.save(update_fields=["status", "removed_at", "secrets_encrypted"])
        _forget_cached(account)
        waiting = InboundEvent.objects.filter(account=account, state=InboundEvent.State.PENDING).update(
            state=InboundEvent.State.IGNORED, error="the channel account was removed before this event was processed",
            processed_at=timezone.now(),
        )
        queued = list(Message.objects.filter(
            channel_account=account, direction=Message.Direction.OUTBOUND,
            delivery_state=Message.DeliveryState.QUEUED))
        for message in queued:
            message.delivery_state = Message.DeliveryState.FAILED
            message.failure_reason = _("Not sent: the channel account was removed.")
            message.delivery_updated_at = timezone.now()
            message.save(update_fields=["delivery_state", "failure_reason", "delivery_updated_at"])
        _record(account, actor, Kind.REMOVED, previous_status=previous, waiting_events_ignored=waiting,
                replies_failed=len(queued))
    _forget_client_tokens()


def _forget_cached(account: ChannelAccount) -> None:
    """This process's webhook view keeps accounts for a few seconds; forget this one now."""
    from channels_ingest import views

    views._accounts.pop((account.public_id, account.provider), None)


def _forget_client_tokens() -> None:
    """Access tokens cached in memory were obtained with the old credentials."""
    try:
        from channels_ingest.adapters.amazon_sp.client import forget_tokens

        forget_tokens()
    except Exception:  # noqa: BLE001 - an optional provider's import must not break the page
        logger.debug("could not forget Amazon tokens", exc_info=True)
