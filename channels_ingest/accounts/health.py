"""An account's health as the "Channels" page shows it, and the one way a provider's refusal of
the credentials is recorded.

Expired credentials: when a provider answers 401 (or 403 to a token, or OAuth's invalid_grant),
the account is put in *Error* with `credentials_expired_at` set and the reason in `last_error`.
Polling, reconciliation and order sync only run for active accounts, so they stop asking until an
admin enters new credentials (the page's "replace" form, or the provider's install flow) or a
connection test succeeds again; either clears the mark.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from tickets.models import ChannelAccount

Status = ChannelAccount.Status


def is_credentials_refusal(exc: BaseException) -> bool:
    """Whether a provider error means the credentials are wrong, revoked or expired."""
    from channels_ingest.shop_http import CredentialsRejected

    if isinstance(exc, CredentialsRejected):
        return True
    status = getattr(exc, "status", 0)
    code = getattr(exc, "code", None)
    module = type(exc).__module__
    if module.endswith("meta.client"):
        # Graph API: 190 is "invalid OAuth access token" (expired, revoked, password changed).
        return status == 401 or code == 190
    if module.endswith("twilio.client"):
        return status == 401  # Twilio error 20003: authentication failed
    return False


def mark_credentials_expired(account: ChannelAccount, reason: str) -> None:
    """Record that the provider refused the account's credentials: status Error, the time, and the
    reason (never the secret itself). A paused or removed account keeps its status."""
    now = timezone.now()
    message = f"{now:%Y-%m-%d %H:%M} {reason}"[:2000]
    updates = {"credentials_expired_at": now, "last_error": message}
    ChannelAccount.objects.filter(pk=account.pk, status__in=[Status.ACTIVE, Status.ERROR]).update(
        status=Status.ERROR, **updates
    )
    ChannelAccount.objects.filter(pk=account.pk, status__in=[Status.PAUSED]).update(**updates)
    account.refresh_from_db(fields=["status", "credentials_expired_at", "last_error"])


def clear_credentials_expired(account: ChannelAccount) -> None:
    """New credentials work: the account is active again (unless paused or removed)."""
    ChannelAccount.objects.filter(pk=account.pk, status=Status.ERROR).update(status=Status.ACTIVE)
    ChannelAccount.objects.filter(pk=account.pk).update(credentials_expired_at=None, last_error="")
    account.refresh_from_db(fields=["status", "credentials_expired_at", "last_error"])


@dataclass(frozen=True)
class AccountHealth:
    """One row of the page."""

    account: ChannelAccount
    waiting_events: int  # stored while paused (or not yet processed)
    failed_events: int
    held_replies: int  # replies queued while the account is paused

    @property
    def credentials_expired(self) -> bool:
        return self.account.credentials_expired_at is not None

    @property
    def level(self) -> str:
        """ok, paused, warning or error: the colour of the row's badge."""
        account = self.account
        if account.status == Status.PAUSED:
            return "paused"
        if account.status == Status.ERROR or self.credentials_expired:
            return "error"
        if account.last_error or self.failed_events:
            return "warning"
        return "ok"
