"""The helpdesk's domain: stores and their connected channels, customers and their identities,
tickets, messages, orders, teams and the ticket timeline.

State changes go through `tickets.actions`; this module holds fields, constraints, querysets and
small derived properties only.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Least
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.crypto import decrypt_json, encrypt_json
from tickets.html import sanitize_html
from tickets.routing.fields import ChoiceArrayField


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
    auto_close_solved_after_days = models.PositiveSmallIntegerField(
        _("close solved tickets after (days)"), default=0,
        help_text=_("Solved tickets of this store are closed automatically after this many days; 0 never closes them."),
    )
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
        # Disconnected, history kept (channels_ingest.accounts.actions.remove_account).
        REMOVED = "removed", _("Removed")

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
    # Set when the provider refused the credentials (401, invalid_grant): see channels_ingest.accounts.health.
    credentials_expired_at = models.DateTimeField(_("credentials expired"), null=True, blank=True)
    paused_at = models.DateTimeField(_("paused"), null=True, blank=True)
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)
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


class ChannelAccountEvent(models.Model):
    """What an admin did to a channel account, and when (the Channels page's history). `data`
    names what changed, never a secret's value."""

    class Kind(models.TextChoices):
        CONNECTED = "connected", _("Connected")
        UPDATED = "updated", _("Settings changed")
        TESTED = "tested", _("Connection tested")
        PAUSED = "paused", _("Paused")
        RESUMED = "resumed", _("Resumed")
        REMOVED = "removed", _("Removed")

    account = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, related_name="admin_events", verbose_name=_("channel account")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("actor")
    )
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("channel account event")
        verbose_name_plural = _("channel account events")
        indexes = [models.Index(fields=["account", "created_at"], name="chacct_event_account")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.account_id}"


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

    # Routing (tickets.routing.assignment)
    class OfflinePolicy(models.TextChoices):
        KEEP = "keep", _("Keep their tickets")
        RETURN = "return", _("Return their open tickets to the team queue")

    auto_assign = models.BooleanField(
        _("assign automatically"), default=False,
        help_text=_("New tickets of this team go to its online agents in turn, within each agent's capacity."),
    )
    offline_policy = models.CharField(
        _("when an agent goes offline"), max_length=10, choices=OfflinePolicy.choices, default=OfflinePolicy.KEEP,
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
    capacity = models.PositiveIntegerField(
        _("open ticket capacity"), default=25,
        help_text=_("Most open tickets automatic assignment gives this agent; 0 means no limit."),
    )
    # Routing skills: what the agent is given by automatic assignment. Empty means "all".
    stores = models.ManyToManyField(
        Store, blank=True, related_name="agents", verbose_name=_("stores served"),
        help_text=_("Leave empty to serve every store."),
    )
    channels = ChoiceArrayField(
        models.CharField(max_length=20, choices=Channel.choices), default=list, blank=True,
        verbose_name=_("channels served"), help_text=_("Leave all unticked to serve every channel."),
    )
    languages = ArrayField(
        models.CharField(max_length=8), default=list, blank=True, verbose_name=_("languages spoken"),
        help_text=_("Language codes of the customers this agent answers, comma-separated (e.g. es,en,de). "
                    "Leave empty for every language."),
    )
    availability_changed_at = models.DateTimeField(_("availability changed"), null=True, blank=True)

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
    opted_out_at = models.DateTimeField(
        _("opted out"), null=True, blank=True,
        help_text=_("When the customer asked for no more text messages (SMS STOP); replies are blocked until START."),
    )
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
    payment_status = models.CharField(
        _("payment status"), max_length=30, blank=True, help_text=_("As the shop reports it: paid, pending, refunded...")
    )
    provider_updated_at = models.DateTimeField(
        _("changed at the shop"), null=True, blank=True,
        help_text=_("The shop's own modification time; an older delivery never overwrites a newer state."),
    )
    marketplace_site = models.CharField(
        _("marketplace site"), max_length=40, blank=True,
        help_text=_("Where a marketplace order was placed, e.g. amazon.es."),
    )
    cancellation_requested_at = models.DateTimeField(
        _("cancellation requested"), null=True, blank=True,
        help_text=_("When the buyer asked the marketplace to cancel the order."),
    )
    cancellation_reason = models.CharField(_("cancellation reason"), max_length=500, blank=True)
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
            # An order reference in a message may be the shop's id, whatever the marketplace.
            models.Index(fields=["store", "external_id"], name="order_store_external"),
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


class Refund(models.Model):
    """Money given back on an order, as the shop recorded it. `lines` lists the refunded order
    lines: {"line_external_id", "quantity", "amount"}."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds", verbose_name=_("order"))
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    lines = models.JSONField(_("refunded lines"), default=list, blank=True)
    created_at = models.DateTimeField(_("refunded"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.UniqueConstraint(
                fields=["order", "external_id"], condition=~Q(external_id=""), name="refund_unique_external"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}".strip()


class PrivacyRequest(models.Model):
    """A data-protection request a platform forwarded (Shopify's customers/data_request,
    customers/redact, shop/redact), kept for the administrators with what was done about it."""

    class Kind(models.TextChoices):
        DATA_REQUEST = "data_request", _("Customer data request")
        CUSTOMER_REDACT = "customer_redact", _("Customer erasure")
        SHOP_REDACT = "shop_redact", _("Shop erasure")

    account = models.ForeignKey(
        ChannelAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="privacy_requests",
        verbose_name=_("channel account"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="privacy_requests",
        verbose_name=_("customer"),
    )
    external_request_id = models.CharField(_("request id"), max_length=100, blank=True)
    export = models.JSONField(_("data export"), default=dict, blank=True)
    summary = models.TextField(_("what was done"), blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


# The inbox's "SLA deadline" sort key: the nearest running deadline (PostgreSQL's LEAST skips NULLs,
# so it is NULL only when no clock runs).
SLA_DUE = Least("first_response_due_at", "next_response_due_at", "resolution_due_at")
OPEN_STATUS_VALUES = ("new", "open", "pending", "on_hold")
_OPEN_SORT_KEYS = {
    "updated": (F("updated_at").desc(), F("id").desc()),
    "lastcust": (F("last_customer_message_at").desc(nulls_last=True), F("id").desc()),
    "created": (F("created_at").desc(), F("id").desc()),
    "priority": (F("priority").desc(), F("id").desc()),
    "sla": (SLA_DUE, F("id")),
}
_OPEN_SORT_INDEXES = [
    *[(f"ticket_open_{key}", columns) for key, columns in _OPEN_SORT_KEYS.items()],
    *[(f"ticket_open_asg_{key}", (F("assignee"), *columns)) for key, columns in _OPEN_SORT_KEYS.items()],
]


class TicketQuerySet(models.QuerySet):
    def open(self) -> TicketQuerySet:
        return self.filter(status__in=Ticket.OPEN_STATUSES)

    def visible_to(self, user) -> TicketQuerySet:
        """The tickets `user` may read; the rule lives in `tickets.access`."""
        from tickets.access import filter_tickets

        return filter_tickets(self, user)


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
            # The inbox's sorts (tickets.inbox.sorting): each key with the id as tie-breaker, once
            # by status (single-status views, any depth) and once over open tickets only, small
            # partial indexes for "all open", "mine" (assignee first) and "unassigned" (assignee
            # IS NULL). Nullable keys sort NULLS LAST, as the inbox orders them.
            models.Index(
                F("status"), F("last_customer_message_at").desc(nulls_last=True), F("id").desc(),
                name="ticket_status_lastcust_nl",
            ),
            models.Index(fields=["status", "-created_at", "-id"], name="ticket_status_created"),
            models.Index(fields=["status", "-priority", "-id"], name="ticket_status_priority"),
            models.Index(fields=["status", "-updated_at", "-id"], name="ticket_status_updated"),
            models.Index(F("status"), SLA_DUE, F("id"), name="ticket_status_sla"),
            *[
                models.Index(*columns, name=name, condition=Q(status__in=OPEN_STATUS_VALUES))
                for name, columns in _OPEN_SORT_INDEXES
            ],
            # The Spam view: few rows, read through this small index and sorted, in any sort.
            models.Index(fields=["-updated_at", "-id"], name="ticket_spam", condition=Q(is_spam=True)),
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


class SavedView(models.Model):
    """An agent's own filtered inbox view: a name, the filters and the sort, listed in the inbox's
    sidebar. Only its owner sees it."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views", verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=80)
    # The inbox's query parameters (tickets.inbox.params.ViewParams.to_query), e.g.
    # {"view": "open", "store": ["3"], "tag": ["7"]}: validated again each time it is opened.
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    sort = models.CharField(_("sort"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_owner_name")]

    def __str__(self) -> str:
        return self.name


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
        ORDER_UNLINKED = "order_unlinked", _("Order unlinked")
        ORDER_ACTION = "order_action", _("Order action")
        MERGED = "merged", _("Merged")
        CUSTOMER_MERGED = "customer_merged", _("Customer merged")
        REOPENED = "reopened", _("Reopened")
        SLA_WARNING = "sla_warning", _("SLA warning")
        SLA_BREACHED = "sla_breached", _("SLA breached")
        RULE_APPLIED = "rule_applied", _("Automation rule applied")
        SPLIT = "split", _("Message split off")
        LINKED = "linked", _("Ticket linked")
        UNLINKED = "unlinked", _("Ticket link removed")
        SPAM = "spam", _("Marked as spam")

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


# --- SLAs: business calendars, policies, measured responses, notifications ------------------------


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class BusinessCalendar(models.Model):
    """When the support team works: a time zone, opening periods per weekday (several per day for
    split shifts), public holidays of a country (and region) from the `holidays` package, and the
    team's own closed days. SLA targets counted in business hours only run inside these periods.

    Arithmetic lives in `tickets.sla.calendar`."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Madrid",
                                 help_text=_("An IANA time zone, e.g. Europe/Madrid or Europe/Bucharest."))
    holiday_country = models.CharField(
        _("public holidays of"), max_length=2, blank=True,
        help_text=_("ISO 3166-1 alpha-2 country code, e.g. ES or RO. Leave empty for no public holidays."),
    )
    holiday_subdivision = models.CharField(
        _("region"), max_length=10, blank=True,
        help_text=_("Region whose holidays also apply, as the holidays package names it, e.g. MD (Madrid) or CT (Catalonia)."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name


class BusinessHoursPeriod(models.Model):
    """One opening period on one weekday, in the calendar's time zone. A closing time of 00:00
    means midnight at the end of the day."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="periods", verbose_name=_("calendar")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens_at = models.TimeField(_("opens"))
    closes_at = models.TimeField(_("closes"), help_text=_("00:00 means midnight at the end of the day."))

    class Meta:
        ordering = ["calendar", "weekday", "opens_at"]
        verbose_name = _("opening period")
        verbose_name_plural = _("opening periods")

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"


class CalendarClosedDay(models.Model):
    """A day the team does not work besides the public holidays (company holiday, inventory day)."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="closed_days", verbose_name=_("calendar")
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("reason"), max_length=120, blank=True)

    class Meta:
        ordering = ["calendar", "date"]
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="calendar_closed_day_once")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class SLAPolicy(models.Model):
    """Response and resolution targets for the tickets that match its conditions.

    Policies are tried in `position` order and the first one whose conditions all hold applies;
    an empty condition matches everything. Targets are in minutes, counted in the calendar's
    business hours or in plain calendar hours (`hours`)."""

    class Hours(models.TextChoices):
        BUSINESS = "business", _("Business hours (from the calendar)")
        CALENDAR = "calendar", _("Calendar hours (24 × 7)")

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveIntegerField(_("position"), default=100, help_text=_("Lower positions are tried first."))
    is_active = models.BooleanField(_("active"), default=True)

    # Conditions (all must hold; an empty one matches anything)
    stores = models.ManyToManyField(Store, blank=True, related_name="sla_policies", verbose_name=_("stores"))
    channels = models.JSONField(_("channels"), default=list, blank=True)
    marketplaces = models.JSONField(_("marketplaces"), default=list, blank=True,
                                    help_text=_("e.g. amazon.es, amazon.de"))
    priorities = models.JSONField(_("priorities"), default=list, blank=True)
    tags = models.ManyToManyField(
        Tag, blank=True, related_name="sla_policies", verbose_name=_("tags"),
        help_text=_("The ticket has at least one of these tags."),
    )
    customer_countries = models.JSONField(_("customer countries"), default=list, blank=True)
    customer_languages = models.JSONField(_("customer languages"), default=list, blank=True)
    customer_email_domains = models.JSONField(_("customer email domains"), default=list, blank=True)

    # Targets
    hours = models.CharField(_("count in"), max_length=10, choices=Hours.choices, default=Hours.BUSINESS)
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.PROTECT, null=True, blank=True, related_name="policies",
        verbose_name=_("business calendar"),
    )
    first_response_minutes = models.PositiveIntegerField(_("first response within (minutes)"), null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(
        _("next response within (minutes)"), null=True, blank=True,
        help_text=_("Counted from each customer message that is still unanswered."),
    )
    resolution_minutes = models.PositiveIntegerField(_("resolution within (minutes)"), null=True, blank=True)
    warning_minutes = models.PositiveIntegerField(
        _("warn before (minutes)"), default=60, help_text=_("How long before a deadline the warning is sent.")
    )
    pause_when_pending = models.BooleanField(_("pause while pending on the customer"), default=True)
    pause_when_on_hold = models.BooleanField(_("pause while on hold"), default=True)

    # What happens on a breach
    notify_assignee = models.BooleanField(_("notify the assignee"), default=True)
    notify_team_lead = models.BooleanField(_("notify the team lead"), default=True)
    notify_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("also notify on breach")
    )
    escalate_priority = models.PositiveSmallIntegerField(
        _("raise priority to"), choices=Ticket.Priority.choices, null=True, blank=True,
        help_text=_("On breach the ticket's priority is raised to at least this."),
    )
    escalate_team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("move to team")
    )
    escalate_assign_team_lead = models.BooleanField(
        _("reassign to the team lead"), default=False,
        help_text=_("On breach the ticket is given to the lead of its (new) team."),
    )
    escalate_tag = models.ForeignKey(
        Tag, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("add tag")
    )

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name


class ResponseFact(models.Model):
    """One measured clock: a first response, a next response (after a customer message) or a
    resolution. Open while `completed_at` is empty; the SLA sweep reads the open ones of the
    tickets it checks. Kept after completion for the dashboards.

    `business_seconds` is the time counted against the target (the policy's calendar, pauses left
    out); `calendar_seconds` is the plain wall-clock time from start to completion. `breached` is
    empty while open and when no target applied."""

    class Kind(models.TextChoices):
        FIRST_RESPONSE = "first_response", _("First response")
        NEXT_RESPONSE = "next_response", _("Next response")
        RESOLUTION = "resolution", _("Resolution")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="response_facts", verbose_name=_("ticket"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # FK indexes left out where another index serves (store) or nothing reads by them in bulk:
    # every customer message inserts a row here, so each index costs at every event.
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+", verbose_name=_("store"), db_index=False)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("team"),
                             db_index=False)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("agent"), db_index=False,
    )
    started_at = models.DateTimeField(_("started"))
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    business_seconds = models.IntegerField(_("counted seconds"), null=True, blank=True)
    calendar_seconds = models.IntegerField(_("calendar seconds"), null=True, blank=True)
    breached = models.BooleanField(_("breached"), null=True, blank=True)

    # Clock state
    policy = models.ForeignKey(
        SLAPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("SLA policy"),
        db_index=False,
    )
    target_seconds = models.IntegerField(_("target seconds"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warning due"), null=True, blank=True)
    paused_at = models.DateTimeField(_("paused since"), null=True, blank=True)
    paused_seconds = models.IntegerField(_("counted seconds paused"), default=0)
    warned_at = models.DateTimeField(_("warning recorded"), null=True, blank=True)
    breached_at = models.DateTimeField(_("breach recorded"), null=True, blank=True)

    class Meta:
        ordering = ["started_at", "pk"]
        verbose_name = _("response time")
        verbose_name_plural = _("response times")
        indexes = [
            models.Index(fields=["completed_at"], name="respfact_completed"),
            models.Index(fields=["store", "completed_at"], name="respfact_store_completed"),
            models.Index(fields=["ticket"], name="respfact_open", condition=Q(completed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on ticket {self.ticket_id}"


class Notification(models.Model):
    """An in-app notification for one user (an SLA warning, a breach, an assignment...); created
    with `tickets.notify.notify`, which also emails it."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("recipient")
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications", verbose_name=_("ticket")
    )
    kind = models.CharField(_("kind"), max_length=40)
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("emailed"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_recipient"),
            models.Index(fields=["recipient"], name="notification_unread", condition=Q(read_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.text[:80]


# --- Routing and automation (tickets.routing) --------------------------------------------------


class TeamRotation(models.Model):
    """Where a team's round-robin stands: the agent who got its last ticket. The row is locked
    while one of the team's tickets is being assigned, so tickets arriving together are handed
    out one after the other and never past an agent's capacity."""

    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, primary_key=True, related_name="rotation", verbose_name=_("team")
    )
    last_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("last assigned agent"),
    )
    last_assigned_at = models.DateTimeField(_("last assignment"), null=True, blank=True)

    class Meta:
        verbose_name = _("team rotation")
        verbose_name_plural = _("team rotations")

    def __str__(self) -> str:
        return str(self.team)


class AutomationRule(models.Model):
    """When a ticket is created (or a customer replies), if every condition holds, then do the
    actions. Rules run in `position` order; each sees what the earlier ones changed, and one with
    "stop here" ends the run when it matches. An empty condition matches everything.

    Matching and actions live in `tickets.routing.rules`."""

    class BusinessHours(models.TextChoices):
        ANY = "any", _("At any time")
        INSIDE = "inside", _("Inside business hours")
        OUTSIDE = "outside", _("Outside business hours")

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=100, help_text=_("Lower positions run first."))
    stop_processing = models.BooleanField(
        _("stop here"), default=False, help_text=_("When this rule matches, the rules after it are not tried.")
    )

    # When
    on_ticket_created = models.BooleanField(_("when a ticket is created"), default=True)
    on_customer_replied = models.BooleanField(_("when the customer replies"), default=False)

    # If (all must hold; an empty one matches anything)
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, null=True, blank=True, related_name="automation_rules",
        verbose_name=_("store"), help_text=_("Leave empty for every store."),
    )
    channels = ChoiceArrayField(
        models.CharField(max_length=20, choices=Channel.choices), default=list, blank=True,
        verbose_name=_("channel is one of"), help_text=_("Leave all unticked for every channel."),
    )
    marketplaces = ArrayField(
        models.CharField(max_length=40), default=list, blank=True, verbose_name=_("marketplace is one of"),
        help_text=_("Comma-separated, e.g. amazon.es,amazon.de; \"amazon\" matches every Amazon marketplace."),
    )
    subject_contains = ArrayField(
        models.CharField(max_length=200), default=list, blank=True, verbose_name=_("subject contains any of"),
        help_text=_("Comma-separated words or phrases; case does not matter."),
    )
    text_contains = ArrayField(
        models.CharField(max_length=200), default=list, blank=True, verbose_name=_("subject or message contains any of"),
        help_text=_("Comma-separated words or phrases, looked for in the subject and the customer's message."),
    )
    languages = ArrayField(
        models.CharField(max_length=8), default=list, blank=True, verbose_name=_("customer language is one of"),
        help_text=_("Comma-separated language codes, e.g. es,ro."),
    )
    tags = models.ManyToManyField(
        Tag, blank=True, related_name="rules_matching", verbose_name=_("has any of the tags")
    )
    priorities = ChoiceArrayField(
        models.PositiveSmallIntegerField(choices=Ticket.Priority.choices), default=list, blank=True,
        verbose_name=_("priority is one of"),
    )
    business_hours = models.CharField(
        _("time"), max_length=10, choices=BusinessHours.choices, default=BusinessHours.ANY,
    )
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.PROTECT, null=True, blank=True, related_name="automation_rules",
        verbose_name=_("business calendar"),
        help_text=_("Whose business hours; leave empty to use the calendar of the ticket's SLA policy."),
    )

    # Then
    set_team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("move to team")
    )
    set_priority = models.PositiveSmallIntegerField(
        _("set priority"), choices=Ticket.Priority.choices, null=True, blank=True
    )
    add_tags = models.ManyToManyField(Tag, blank=True, related_name="rules_adding", verbose_name=_("add tags"))
    set_language = models.CharField(
        _("set language"), max_length=8, blank=True, help_text=_("A language code, e.g. es.")
    )
    assign = models.BooleanField(
        _("assign to an agent"), default=False,
        help_text=_("Give the ticket to the next online agent of its team who has room (round-robin)."),
    )
    send_acknowledgement = models.BooleanField(
        _("send an acknowledgement"), default=False,
        help_text=_("Email the customer that their message arrived and when to expect an answer. Never sent to "
                    "automatic replies, nor on Amazon or eBay, whose rules forbid it."),
    )
    acknowledgement_text = models.TextField(
        _("acknowledgement text"), blank=True,
        help_text=_("Leave empty for the standard text in the ticket's language. Placeholders: "
                    "{{ customer_first_name }}, {{ ticket_id }}, {{ store_name }}, {{ expected_answer }}."),
    )

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("automation rule")
        verbose_name_plural = _("automation rules")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from tickets.routing.rules import validate_rule

        validate_rule(self)


class TicketLink(models.Model):
    """A link between two tickets, shown on both: "related" reads the same both ways; "duplicate"
    and "follow_up" read from `from_ticket` ("duplicate of #to") and back ("has a duplicate: #from")."""

    class Kind(models.TextChoices):
        RELATED = "related", _("Related")
        DUPLICATE = "duplicate", _("Duplicate")
        FOLLOW_UP = "follow_up", _("Follow-up")

    from_ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="links_out", verbose_name=_("ticket"),
    )
    to_ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="links_in", verbose_name=_("linked ticket"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.RELATED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("ticket link")
        verbose_name_plural = _("ticket links")
        constraints = [
            models.UniqueConstraint(fields=["from_ticket", "to_ticket"], name="ticket_link_once"),
            models.CheckConstraint(condition=~Q(from_ticket=models.F("to_ticket")), name="ticket_link_not_self"),
        ]

    def __str__(self) -> str:
        return f"#{self.from_ticket_id} {self.kind} #{self.to_ticket_id}"



# --- Search (tickets.search) -----------------------------------------------------------------


class TicketSearchDocument(models.Model):
    """A ticket's words for full-text search: subject, customer names, addresses, phone numbers,
    order numbers and message texts. Written only by the database triggers of migration 0012
    (whatever path writes the ticket or its messages); read by `tickets.search`."""

    ticket = models.OneToOneField(
        Ticket, on_delete=models.DO_NOTHING, primary_key=True, related_name="search_document",
        db_constraint=False, verbose_name=_("ticket"),  # the database's own FK cascades on delete
    )
    document = SearchVectorField(_("search document"))

    class Meta:
        verbose_name = _("ticket search document")
        verbose_name_plural = _("ticket search documents")

    def __str__(self) -> str:
        return f"search document of ticket {self.ticket_id}"
