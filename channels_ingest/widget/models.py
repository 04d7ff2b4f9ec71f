"""The shop chat widget's settings per store and its visitors' conversations.

A conversation belongs to one visitor, who holds a random token (only its SHA-256 is stored).
Until the bot hands it to a person it lives here alone (the bot's state and the transcript);
after the handoff it has a ticket, and its messages are that ticket's chat messages.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Channel, Language

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def new_public_key() -> str:
    return secrets.token_urlsafe(12)


def normalise_origin(value: str) -> str:
    """"https://Shop.example:443/path" -> "https://shop.example"; "" when it is not an origin.
    A leading "*." in the host allows every subdomain ("https://*.shop.example")."""
    value = value.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.hostname.lower()
    wildcard = value.split("://", 1)[1].startswith("*.")
    if wildcard:
        host = "*." + host.lstrip("*.")
    default_port = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return ""
    suffix = f":{port}" if port and port != default_port else ""
    return f"{parts.scheme}://{host}{suffix}"


def origin_allowed(origin: str, allowed: list[str]) -> bool:
    origin = normalise_origin(origin)
    if not origin or "*" in origin:
        return False
    scheme, _sep, host = origin.partition("://")
    for pattern in allowed:
        if pattern == origin:
            return True
        if "://*." in pattern:
            pattern_scheme, _sep, pattern_host = pattern.partition("://*.")
            if pattern_scheme == scheme and host.endswith("." + pattern_host):
                return True
    return False


class WidgetSettings(models.Model):
    """How one store's chat widget looks and who may embed it."""

    class Position(models.TextChoices):
        RIGHT = "right", _("Bottom right")
        LEFT = "left", _("Bottom left")

    store = models.OneToOneField(
        "tickets.Store", on_delete=models.CASCADE, related_name="widget_settings", verbose_name=_("store")
    )
    account = models.OneToOneField(
        "tickets.ChannelAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="widget_settings",
        verbose_name=_("chat channel account"), limit_choices_to={"channel": Channel.CHAT},
        help_text=_("The chat account the widget's tickets belong to; created for the store when left empty."),
    )
    public_key = models.CharField(
        _("public key"), max_length=40, unique=True, default=new_public_key, editable=False,
        help_text=_("Names the widget in the script address; not a secret."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    allowed_origins = models.TextField(
        _("allowed origins"), blank=True,
        help_text=_("The shop pages allowed to show the widget, one origin per line, e.g. https://shop.example "
                    "(https://*.shop.example allows every subdomain). Nothing else can open a conversation."),
    )
    language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, blank=True,
        help_text=_("Leave empty for the store's default language."),
    )
    title = models.CharField(_("title"), max_length=80, blank=True,
                             help_text=_("Shown at the top of the chat; leave empty for the store's name."))
    primary_colour = models.CharField(_("main colour"), max_length=7, default="#1f6feb")
    text_colour = models.CharField(_("text colour on the main colour"), max_length=7, default="#ffffff")
    position = models.CharField(_("position"), max_length=5, choices=Position.choices, default=Position.RIGHT)
    welcome_text = models.TextField(
        _("welcome text"), blank=True, help_text=_("The bot's first words; leave empty for the standard greeting."),
    )
    returns_policy_text = models.TextField(
        _("returns policy"), blank=True, help_text=_("What the bot answers when a visitor asks about returns."),
    )
    calendar = models.ForeignKey(
        "tickets.BusinessCalendar", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("business hours"),
        help_text=_("When people answer; outside these hours the bot says when and asks for an email address."),
    )
    email_account = models.ForeignKey(
        "tickets.ChannelAccount", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("mailbox for replies by email"), limit_choices_to={"channel": Channel.EMAIL},
        help_text=_("Replies to a visitor who left an email address and went away are sent from this mailbox; "
                    "leave empty for the store's first mailbox."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        app_label = "channels_ingest"
        verbose_name = _("chat widget")
        verbose_name_plural = _("chat widgets")

    def __str__(self) -> str:
        return str(self.store)

    def clean(self) -> None:
        errors = {}
        for field in ("primary_colour", "text_colour"):
            if not HEX_COLOUR.match(getattr(self, field) or ""):
                errors[field] = _("Give a colour as #rrggbb, e.g. #1f6feb.")
        bad = [line.strip() for line in self.allowed_origins.splitlines() if line.strip() and not normalise_origin(line)]
        if bad:
            errors["allowed_origins"] = _("Not an origin (scheme and host, e.g. https://shop.example): %(values)s") % {
                "values": ", ".join(bad)}
        if self.account_id and self.store_id and self.account.store_id != self.store_id:
            errors["account"] = _("The chat account must belong to the same store.")
        if errors:
            raise ValidationError(errors)

    @property
    def origins(self) -> list[str]:
        return [origin for origin in (normalise_origin(line) for line in self.allowed_origins.splitlines()) if origin]

    def allows_origin(self, origin: str | None) -> bool:
        return bool(origin) and origin_allowed(origin, self.origins)

    @property
    def conversation_language(self) -> str:
        return self.language or self.store.default_language or Language.EN

    @property
    def display_title(self) -> str:
        return self.title or self.store.name


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WidgetConversation(models.Model):
    """One visitor's conversation. `transcript` holds the lines said before the handoff
    ({"who": "visitor"|"bot", "text", "at"}); afterwards the ticket's chat messages do."""

    settings = models.ForeignKey(
        WidgetSettings, on_delete=models.CASCADE, related_name="conversations", verbose_name=_("chat widget")
    )
    token_hash = models.CharField(_("visitor token (SHA-256)"), max_length=64, unique=True, editable=False)
    visitor_key = models.CharField(
        _("visitor id"), max_length=40, unique=True, editable=False,
        help_text=_("The conversation's public id: its thread and the visitor's chat identity."),
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.EN)
    state = models.JSONField(_("bot state"), default=dict, blank=True)
    transcript = models.JSONField(_("transcript before the handoff"), default=list, blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="widget_conversations",
        verbose_name=_("ticket"),
    )
    order = models.ForeignKey(
        "tickets.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("identified order"),
    )
    visitor_email = models.EmailField(_("visitor email"), blank=True)
    visitor_name = models.CharField(_("visitor name"), max_length=200, blank=True)
    page_url = models.URLField(_("page"), max_length=1000, blank=True)
    handed_off_at = models.DateTimeField(_("handed to a person"), null=True, blank=True)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("visitor last seen"), default=timezone.now)

    class Meta:
        app_label = "channels_ingest"
        ordering = ["-created_at", "-pk"]
        verbose_name = _("chat conversation")
        verbose_name_plural = _("chat conversations")
        indexes = [models.Index(fields=["ticket"], name="widget_conv_ticket")]

    def __str__(self) -> str:
        return f"{self.settings} · {self.visitor_key[:8]}"

    @property
    def group_name(self) -> str:
        return visitor_group(self.pk)


def visitor_group(conversation_id: int) -> str:
    """The Channels group of one conversation's open sockets (all tabs of the visitor)."""
    return f"widget-visitor-{conversation_id}"
