"""The generic webhook's payload: a documented JSON format any marketplace, shop or custom site can
send with a small script (see README, "Any other marketplace or shop")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GenericCustomer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=300, description="The customer's id on the sending system")
    name: str = ""
    email: str = ""
    phone: str = ""


class GenericAttachment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    filename: str = Field(min_length=1, max_length=255)
    content_type: str = "application/octet-stream"
    content_base64: str


class GenericMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=255)
    thread_id: str = ""
    customer: GenericCustomer
    subject: str = ""
    text: str = ""
    html: str = ""
    order_number: str = ""
    sent_at: datetime | None = None
    language: str = ""
    attachments: list[GenericAttachment] = []

    @model_validator(mode="after")
    def _has_content(self) -> GenericMessage:
        if not (self.text.strip() or self.html.strip() or self.attachments):
            raise ValueError("a message needs text, html or an attachment")
        return self


ORDER_STATUSES = (
    "pending", "paid", "processing", "shipped", "partially_shipped", "delivered", "cancelled", "refunded",
    "partially_refunded", "returned",
)
SHIPMENT_STATUSES = ("pending", "in_transit", "out_for_delivery", "delivered", "exception", "returned")


class GenericOrderLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=500)
    sku: str = ""
    quantity: int = Field(default=1, ge=0)
    unit_price: Decimal = Decimal("0")
    total: Decimal = Decimal("0")


class GenericShipment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=100)
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    status: str = Field(default="pending", pattern="^(" + "|".join(SHIPMENT_STATUSES) + ")$")
    shipped_at: datetime | None = None


class GenericRefund(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=100)
    amount: Decimal
    reason: str = ""
    created_at: datetime | None = None


class GenericOrder(BaseModel):
    """An order as the sending system has it now (the whole order every time)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=100)
    number: str = ""
    status: str = Field(pattern="^(" + "|".join(ORDER_STATUSES) + ")$")
    payment_status: str = ""
    currency: str = Field(min_length=3, max_length=3)
    subtotal: Decimal | None = None
    shipping_total: Decimal | None = None
    tax_total: Decimal | None = None
    total: Decimal
    placed_at: datetime | None = None
    updated_at: datetime | None = Field(
        default=None, description="When the order last changed; an older delivery never overwrites a newer one."
    )
    customer: GenericCustomer | None = None
    billing_address: dict = {}
    shipping_address: dict = {}
    lines: list[GenericOrderLine] = []
    shipments: list[GenericShipment] = []
    refunds: list[GenericRefund] = []


class GenericEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=255)
    type: str
    message: GenericMessage | None = None
    order: GenericOrder | None = None
