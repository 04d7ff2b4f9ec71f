"""factory_boy factories for the domain model, shared by every test module."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from tickets.models import (
    AgentProfile,
    CannedResponse,
    Channel,
    ChannelAccount,
    ChannelIdentity,
    Customer,
    Message,
    Order,
    OrderLine,
    Shipment,
    Store,
    Tag,
    Team,
    Ticket,
)

PASSWORD = "correct horse battery staple"


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Store {n}")
    slug = factory.Sequence(lambda n: f"store-{n}")
    default_language = "en"
    country = "GB"
    currency = "EUR"


class ChannelAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelAccount

    store = factory.SubFactory(StoreFactory)
    channel = Channel.EMAIL
    provider = "imap"
    display_name = factory.Sequence(lambda n: f"Account {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.LazyAttribute(lambda u: u.username.capitalize())
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(user, create: bool, extracted: str | None, **kwargs) -> None:
        """UserFactory(role="manager") gives the user an agent profile with that role."""
        user.save()
        if extracted:
            AgentProfile.objects.update_or_create(user=user, defaults={"role": extracted})


def agent_of(*stores: Store, username: str | None = None, role: str = "agent", teams=(), leads=()):
    """A helpdesk user who serves `stores` (AgentProfile.stores), belongs to `teams` and leads
    `leads`: e.g. `agent_of(spain)` sees only the Spanish store's tickets (see tickets.access)."""
    user = UserFactory(role=role, **({"username": username} if username else {}))
    profile = user.agent_profile
    profile.stores.add(*stores)
    profile.teams.add(*teams)
    for team in leads:
        team.lead = user
        team.save(update_fields=["lead"])
    return user


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.org")
    language = "en"


class ChannelIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelIdentity

    customer = factory.SubFactory(CustomerFactory)
    kind = ChannelIdentity.Kind.EMAIL
    value = factory.LazyAttribute(lambda i: i.customer.email)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    store = factory.SubFactory(StoreFactory)
    customer = factory.SubFactory(CustomerFactory)
    marketplace = Channel.SHOPIFY
    external_id = factory.Sequence(lambda n: str(820982911946154508 + n))
    number = factory.Sequence(lambda n: f"#{1000 + n}")
    status = Order.Status.PAID
    total = Decimal("49.90")
    subtotal = Decimal("44.90")
    shipping_total = Decimal("5.00")


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    title = "Ceramic mug"
    quantity = 1
    unit_price = Decimal("44.90")
    total = Decimal("44.90")


class ShipmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shipment

    order = factory.SubFactory(OrderFactory)
    carrier = "DHL"
    tracking_number = factory.Sequence(lambda n: f"JD0146000{n:08d}")
    tracking_url = factory.LazyAttribute(lambda s: f"https://www.dhl.com/track?id={s.tracking_number}")
    status = Shipment.Status.IN_TRANSIT


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    store = factory.SubFactory(StoreFactory)
    channel = Channel.EMAIL
    customer = factory.SubFactory(CustomerFactory)
    subject = factory.Sequence(lambda n: f"Question {n} about my order")
    status = Ticket.Status.OPEN


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    ticket = factory.SubFactory(TicketFactory)
    direction = Message.Direction.INBOUND
    author_type = Message.AuthorType.CUSTOMER
    author_customer = factory.LazyAttribute(lambda m: m.ticket.customer)
    channel = factory.LazyAttribute(lambda m: m.ticket.channel)
    body_text = "Hello, where is my parcel?"


class CannedResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CannedResponse

    title = factory.Sequence(lambda n: f"Reply {n}")
    body = "Hi {{ customer_first_name }}, your order {{ order_number }} is on its way."
    language = "en"
