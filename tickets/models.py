"""The helpdesk's domain: stores and their connected channels, customers and their identities,
tickets, messages, orders, teams and the ticket timeline.

State changes go through `tickets.actions`; this module holds fields, constraints, querysets and
small derived properties only.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.crypto import decrypt_json, encrypt_json
from tickets.html import sanitize_html


class Channel(models.TextChoices):
    """Where a conversation happens. The adapter (provider) that carries it is a separate field."""

    EMAIL = "email", _("Email")
    AMAZON = "amazon", _("Amazon")
    EBAY = "ebay", _("eBay")
    SHOPIFY = "shopify", _("Shopify")
    WOOCOMMERCE = "woocommerce", _("WooCommerce")
    MESSENGER = "messenger", _("Facebook Messenger")
    INSTAGRAM = "instagram", _("Instagram")
    WHATSAPP = "whatsapp", _("WhatsApp")
    SMS = "sms", _("SMS")
    CHAT = "chat", _("Chat widget")
    MARKETPLACE = "marketplace", _("Other marketplace")
    API = "api", _("API")


class Language(models.TextChoices):
    EN = "en", _("English")
    ES = "es", _("Spanish")
    RO = "ro", _("Romanian")


class Store(models.Model):
    """A brand or shop the merchant runs; one installation serves several."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    default_language = models.CharField(
        _("default language"), max_length=8, choices=Language.choices, default=Language.EN
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    country = models.CharField(_("country"), max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2"))
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    website = models.URLField(_("website"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")

    def __str__(self) -> str:
        return self.name


class ChannelAccount(models.Model):
    """A connected account: an Amazon seller account, an eBay account, a Shopify shop, a mailbox,
    a Facebook page, a WhatsApp number...

    Credentials live in `secrets_encrypted` (encrypted at rest, never rendered, never logged);
    read them with `get_secrets()` and write them with `set_secrets()`.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        ERROR = "error", _("Error")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="channel_accounts", verbose_name=_("store"))
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    provider = models.CharField(
        _("provider"), max_length=40, help_text=_("The adapter that carries this account, e.g. imap, mailgun, amazon.")
    )
    display_name = models.CharField(_("display name"), max_length=200)
    external_id = models.CharField(
        _("external id"), max_length=200, blank=True,
        help_text=_("The provider's own id: seller id, page id, phone number id, shop domain, mailbox address."),
    )
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    secrets_encrypted = models.TextField(editable=False, blank=True, default="")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    last_event_at = models.DateTimeField(_("last event"), null=True, blank=True)
    last_sync_at = models.DateTimeField(_("last successful sync"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["store__name", "display_name"]
        verbose_name = _("channel account")
        verbose_name_plural = _("channel accounts")
        indexes = [models.Index(fields=["channel", "external_id"], name="chacct_channel_extid")]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.get_channel_display()})"

    def __repr__(self) -> str:  # never the secrets
        return f"<ChannelAccount {self.pk} {self.provider} {self.display_name!r}>"

    def get_secrets(self) -> dict:
        return decrypt_json(self.secrets_encrypted) if self.secrets_encrypted else {}

    def set_secrets(self, secrets: dict) -> None:
        self.secrets_encrypted = encrypt_json(secrets)

    @property
    def has_secrets(self) -> bool:
        return bool(self.secrets_encrypted)


class Team(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="teams", verbose_name=_("store"),
        help_text=_("Leave empty for a team that serves every store."),
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="led_teams", verbose_name=_("team lead"),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class AgentProfile(models.Model):
    """What the helpdesk knows of a user: role, teams, language and availability."""

    class Role(models.TextChoices):
        AGENT = "agent", _("Agent")
        MANAGER = "manager", _("Manager")
        ADMIN = "admin", _("Administrator")

    class Availability(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.AGENT)
    teams = models.ManyToManyField(Team, blank=True, related_name="members", verbose_name=_("teams"))
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.EN)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    availability = models.CharField(
        _("availability"), max_length=10, choices=Availability.choices, default=Availability.OFFLINE
    )
    capacity = models.PositiveIntegerField(_("open ticket capacity"), default=25)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.get_role_display()})"

    @property
    def is_manager(self) -> bool:
        return self.role in (self.Role.MANAGER, self.Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN


class Customer(models.Model):
    """One person across every channel; their handles are ChannelIdentity rows.

    A merged customer keeps its row (so old links resolve) with `merged_into` set; everything it
    owned now belongs to the survivor.
    """

    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("primary email"), blank=True, db_index=True)
    phone = models.CharField(_("primary phone"), max_length=32, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    note = models.TextField(_("note"), blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_customers",
        verbose_name=_("merged into"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [models.Index(fields=["phone"], name="customer_phone")]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or _("Customer %(id)s") % {"id": self.pk}

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""


class ChannelIdentity(models.Model):
    """One handle by which a customer reaches us. Page-scoped ids (Messenger PSIDs, Instagram ids)
    are unique per account; addresses and phone numbers are global (account left empty)."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email address")
        AMAZON_RELAY = "amazon_relay", _("Amazon buyer relay address")
        EBAY_USER = "ebay_user", _("eBay user id")
        PHONE = "phone", _("Phone number")
        WHATSAPP = "whatsapp", _("WhatsApp id")
        MESSENGER_PSID = "messenger_psid", _("Messenger page-scoped id")
        INSTAGRAM = "instagram", _("Instagram id")
        CHAT_VISITOR = "chat_visitor", _("Chat visitor")
        SHOP_CUSTOMER = "shop_customer", _("Shop customer id")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities", verbose_name=_("customer"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=320, help_text=_("Normalised: email lower-cased, phone in E.164."))
    account = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="identities",
        verbose_name=_("channel account"),
    )
    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("channel identity")
        verbose_name_plural = _("channel identities")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value", "account"], nulls_distinct=False, name="identity_unique_per_account"
            ),
        ]
        indexes = [models.Index(fields=["value"], name="identity_value")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=60, unique=True)
    colour = models.CharField(_("colour"), max_length=7, default="#6b7280")

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    """An order from any marketplace or shop. External ids are kept as text: Shopify's are 64-bit
    and Amazon's look like 123-1234567-1234567."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PAID = "paid", _("Paid")
        PROCESSING = "processing", _("Processing")
        SHIPPED = "shipped", _("Shipped")
        PARTIALLY_SHIPPED = "partially_shipped", _("Partially shipped")
        DELIVERED = "delivered", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        RETURNED = "returned", _("Returned")

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="orders", verbose_name=_("store"))
    channel_account = models.ForeignKey(
        ChannelAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders",
        verbose_name=_("channel account"),
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders", verbose_name=_("customer")
    )
    marketplace = models.CharField(_("marketplace"), max_length=20, choices=Channel.choices)
    external_id = models.CharField(_("external id"), max_length=100)
    number = models.CharField(_("order number"), max_length=100, help_text=_("The number the customer sees."))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2, default=Decimal("0"))
    shipping_total = models.DecimalField(_("shipping"), max_digits=12, decimal_places=2, default=Decimal("0"))
    tax_total = models.DecimalField(_("tax"), max_digits=12, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=Decimal("0"))
    placed_at = models.DateTimeField(_("placed"), default=timezone.now)
    billing_address = models.JSONField(_("billing address"), default=dict, blank=True)
    shipping_address = models.JSONField(_("shipping address"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-placed_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(fields=["store", "marketplace", "external_id"], name="order_unique_external"),
        ]
        indexes = [
            models.Index(fields=["number"], name="order_number"),
            models.Index(fields=["customer", "-placed_at"], name="order_customer_placed"),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    sku = models.CharField(_("SKU"), max_length=100, blank=True)
    title = models.CharField(_("title"), max_length=500)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["pk"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")

    def __str__(self) -> str:
        return f"{self.quantity} × {self.title}"


class Shipment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Label created")
        IN_TRANSIT = "in_transit", _("In transit")
        OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
        DELIVERED = "delivered", _("Delivered")
        EXCEPTION = "exception", _("Delivery problem")
        RETURNED = "returned", _("Returned to sender")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments", verbose_name=_("order"))
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    carrier = models.CharField(_("carrier"), max_length=100, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=100, blank=True, db_index=True)
    tracking_url = models.URLField(_("tracking link"), max_length=500, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    shipped_at = models.DateTimeField(_("shipped"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}".strip()


class TicketQuerySet(models.QuerySet):
    def open(self) -> TicketQuerySet:
        return self.filter(status__in=Ticket.OPEN_STATUSES)

    def visible_to(self, user) -> TicketQuerySet:
        """Every role sees every ticket for now; restricting agents by store is a later setting."""
        return self


class Ticket(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending on customer")
        ON_HOLD = "on_hold", _("On hold")
        SOLVED = "solved", _("Solved")
        CLOSED = "closed", _("Closed")

    class Priority(models.IntegerChoices):
        LOW = 1, _("Low")
        NORMAL = 2, _("Normal")
        HIGH = 3, _("High")
        URGENT = 4, _("Urgent")

    OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("store"))
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    channel_account = models.ForeignKey(
        ChannelAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets",
        verbose_name=_("channel account"),
    )
    external_thread_id = models.CharField(
        _("provider thread id"), max_length=255, blank=True,
        help_text=_("The provider's conversation id, so later messages on it join this ticket."),
    )
    marketplace = models.CharField(
        _("marketplace"), max_length=40, blank=True, help_text=_("For marketplace messages, e.g. amazon.es.")
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("customer"))
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NEW)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices, default=Priority.NORMAL)
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets", verbose_name=_("team")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="assigned_tickets", verbose_name=_("assignee"),
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets", verbose_name=_("tags"))
    orders = models.ManyToManyField(Order, blank=True, related_name="tickets", verbose_name=_("orders"))
    language = models.CharField(_("language"), max_length=8, blank=True)
    is_spam = models.BooleanField(_("spam"), default=False)
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_tickets",
        verbose_name=_("merged into"),
    )
    follow_up_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="follow_ups",
        verbose_name=_("follow-up of"),
    )

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    last_customer_message_at = models.DateTimeField(_("last customer message"), null=True, blank=True)
    last_agent_message_at = models.DateTimeField(_("last agent message"), null=True, blank=True)
    solved_at = models.DateTimeField(_("solved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    # SLA deadlines, recomputed by the SLA engine at every event; the beat sweep reads only the
    # rows whose earliest deadline or warning has come (an index range scan on sla_next_check_at).
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    next_response_due_at = models.DateTimeField(_("next response due"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    sla_next_check_at = models.DateTimeField(_("next SLA check"), null=True, blank=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-pk"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            # Inbox views: "mine / unassigned / by status", newest activity first, keyset-paginated.
            models.Index(fields=["status", "assignee", "-updated_at", "-id"], name="ticket_inbox"),
            models.Index(fields=["status", "-last_customer_message_at", "-id"], name="ticket_status_lastcust"),
            models.Index(fields=["-updated_at", "-id"], name="ticket_updated"),
            models.Index(fields=["store", "status", "-updated_at"], name="ticket_store_status"),
            models.Index(fields=["team", "status", "-updated_at"], name="ticket_team_status"),
            models.Index(fields=["customer", "-created_at"], name="ticket_customer"),
            models.Index(fields=["channel_account", "external_thread_id"], name="ticket_thread"),
            models.Index(
                fields=["sla_next_check_at"], name="ticket_sla_due",
                condition=Q(sla_next_check_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", _("From the customer")
        OUTBOUND = "outbound", _("Reply")
        NOTE = "note", _("Internal note")

    class AuthorType(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        AGENT = "agent", _("Agent")
        BOT = "bot", _("Bot")
        SYSTEM = "system", _("System")

    class DeliveryState(models.TextChoices):
        RECEIVED = "received", _("Received")
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages", verbose_name=_("ticket"))
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    author_type = models.CharField(_("author type"), max_length=10, choices=AuthorType.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages",
        verbose_name=_("agent"),
    )
    author_customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages", verbose_name=_("customer")
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    channel_account = models.ForeignKey(
        ChannelAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages",
        verbose_name=_("channel account"),
    )
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    body_text = models.TextField(_("text"), blank=True)
    body_html = models.TextField(_("HTML"), blank=True, help_text=_("Always sanitised before it is stored."))
    visible_text = models.TextField(
        _("new text"), blank=True, help_text=_("The text without the quoted history, for display; body_text keeps all.")
    )
    is_auto_reply = models.BooleanField(_("automatic reply"), default=False)
    metadata = models.JSONField(_("details"), default=dict, blank=True)
    inbound_event = models.ForeignKey(
        "channels_ingest.InboundEvent", on_delete=models.SET_NULL, null=True, blank=True, related_name="messages",
        verbose_name=_("raw event"),
    )
    external_id = models.CharField(_("provider message id"), max_length=255, blank=True)
    external_thread_id = models.CharField(_("provider thread id"), max_length=255, blank=True)
    delivery_state = models.CharField(
        _("delivery state"), max_length=10, choices=DeliveryState.choices, default=DeliveryState.RECEIVED
    )
    failure_reason = models.TextField(_("failure reason"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    delivery_updated_at = models.DateTimeField(_("delivery updated"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["channel_account", "external_id"], condition=~Q(external_id=""),
                name="message_unique_external_per_account",
            ),
        ]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="message_ticket_created"),
            models.Index(fields=["channel_account", "external_thread_id"], name="message_thread"),
            # The outbound sweeper's scan: only replies still waiting to be sent.
            models.Index(fields=["created_at"], name="message_queued", condition=Q(delivery_state="queued")),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} #{self.pk} on ticket {self.ticket_id}"

    def save(self, *args, **kwargs) -> None:
        # Defence in depth: whatever path created this row, HTML from outside is stored clean.
        if self.body_html:
            self.body_html = sanitize_html(self.body_html)
        super().save(*args, **kwargs)


def attachment_path(instance: Attachment, filename: str) -> str:
    today = timezone.now()
    return f"attachments/{today:%Y/%m}/{uuid.uuid4().hex}/{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("message"))
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=500)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=150, default="application/octet-stream")
    size = models.PositiveBigIntegerField(_("size in bytes"), default=0)
    content_id = models.CharField(_("content id"), max_length=255, blank=True, help_text=_("For inline images."))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class CannedResponse(models.Model):
    """A reply template. Placeholders in double braces are filled from the ticket, see
    `tickets.canned.PLACEHOLDERS` for the list: {{ customer_first_name }}, {{ order_number }}..."""

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"))
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.EN)
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, null=True, blank=True, related_name="canned_responses",
        verbose_name=_("store"), help_text=_("Leave empty to offer it for every store."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["title"]
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        constraints = [
            models.UniqueConstraint(fields=["title", "language", "store"], nulls_distinct=False, name="canned_unique_title"),
        ]

    def __str__(self) -> str:
        return self.title


class TicketEvent(models.Model):
    """The ticket's timeline. `dedupe_key`, when set, makes an event happen once per ticket
    (an SLA breach recorded by two sweeps is still one event)."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        MESSAGE = "message", _("Message added")
        ASSIGNED = "assigned", _("Assigned")
        TEAM_CHANGED = "team_changed", _("Team changed")
        STATUS_CHANGED = "status_changed", _("Status changed")
        PRIORITY_CHANGED = "priority_changed", _("Priority changed")
        TAGGED = "tagged", _("Tags changed")
        ORDER_LINKED = "order_linked", _("Order linked")
        MERGED = "merged", _("Merged")
        CUSTOMER_MERGED = "customer_merged", _("Customer merged")
        REOPENED = "reopened", _("Reopened")
        SLA_WARNING = "sla_warning", _("SLA warning")
        SLA_BREACHED = "sla_breached", _("SLA breached")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events", verbose_name=_("ticket"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("actor")
    )
    data = models.JSONField(_("details"), default=dict, blank=True)
    dedupe_key = models.CharField(max_length=120, blank=True, default="")
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "dedupe_key"], condition=~Q(dedupe_key=""), name="ticket_event_once"
            ),
        ]
        indexes = [models.Index(fields=["ticket", "created_at"], name="ticket_event_ticket")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on ticket {self.ticket_id}"
