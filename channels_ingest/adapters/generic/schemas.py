"""The generic webhook's payload: a documented JSON format any marketplace, shop or custom site can
send with a small script (see README, "Any other marketplace or shop")."""

from __future__ import annotations

from datetime import datetime

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


class GenericEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=255)
    type: str
    message: GenericMessage | None = None
