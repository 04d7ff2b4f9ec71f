"""Raw inbound events, kept exactly as received so that nothing is ever lost."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class InboundEvent(models.Model):
    """One delivery from a provider (a webhook call, a polled email), stored before any parsing.

    Unique on (provider, account, event_id): a provider's retry or replay is stored once.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    provider = models.CharField(_("provider"), max_length=40)
    account = models.ForeignKey(
        "tickets.ChannelAccount", on_delete=models.PROTECT, related_name="inbound_events",
        verbose_name=_("channel account"),
    )
    event_id = models.CharField(_("provider event id"), max_length=255)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    body = models.BinaryField(_("raw body"))
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")
        constraints = [
            models.UniqueConstraint(fields=["provider", "account", "event_id"], name="inbound_event_once"),
        ]
        indexes = [
            # The sweeper's scan: only waiting events, oldest first.
            models.Index(fields=["received_at"], name="inbound_pending", condition=Q(state="pending")),
            models.Index(fields=["provider", "state", "-received_at"], name="inbound_admin"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id}"

    @property
    def body_bytes(self) -> bytes:
        return bytes(self.body)

    def body_preview(self, limit: int = 200_000) -> str:
        return self.body_bytes[:limit].decode("utf-8", errors="replace")


class MailboxCursor(models.Model):
    """Where IMAP polling of one folder of one mailbox stands.

    IMAP UIDs only mean something within one UIDVALIDITY: when the server changes it, the folder
    is read again from the start and de-duplication (on Message-ID) keeps messages single.
    """

    account = models.ForeignKey(
        "tickets.ChannelAccount", on_delete=models.CASCADE, related_name="mailbox_cursors",
        verbose_name=_("channel account"),
    )
    folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    uidvalidity = models.BigIntegerField(_("UIDVALIDITY"), null=True, blank=True)
    last_uid = models.BigIntegerField(_("last imported UID"), default=0)
    last_polled_at = models.DateTimeField(_("last polled"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("mailbox cursor")
        verbose_name_plural = _("mailbox cursors")
        constraints = [models.UniqueConstraint(fields=["account", "folder"], name="mailbox_cursor_once")]

    def __str__(self) -> str:
        return f"{self.account} {self.folder} @ {self.uidvalidity}:{self.last_uid}"


# The shop chat widget's models live in their own package; imported here so Django registers them.
from channels_ingest.widget.models import WidgetConversation, WidgetSettings  # noqa: E402, F401
