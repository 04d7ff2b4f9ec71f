"""Shared builders for the routing and automation tests: agents with skills, inbound messages
threaded through the real ingest path."""

from __future__ import annotations

from collections.abc import Iterable

from channels_ingest.base import CustomerHandle, NormalizedMessage
from tests.factories import UserFactory
from tickets.ingest import ingest_message
from tickets.models import (
    AgentProfile,
    Channel,
    ChannelAccount,
    ChannelIdentity,
    Message,
    Team,
    Ticket,
)
from tickets.routing.rules import forget_rules


def make_agent(
    username: str,
    *teams: Team,
    availability: str = AgentProfile.Availability.ONLINE,
    capacity: int = 0,
    stores: Iterable = (),
    channels: Iterable[str] = (),
    languages: Iterable[str] = (),
):
    """A user with an agent profile in these teams, with the given availability and skills."""
    user = UserFactory(username=username, role="agent")
    profile = user.agent_profile
    profile.availability = availability
    profile.capacity = capacity
    profile.channels = list(channels)
    profile.languages = list(languages)
    profile.save()
    profile.teams.set(teams)
    profile.stores.set(stores)
    return user


_counter = iter(range(1, 10**9))


def customer_message(
    *,
    email: str = "",
    subject: str = "Where is my order?",
    text: str = "Hello, my parcel has not arrived.",
    channel: str = Channel.EMAIL,
    marketplace: str = "",
    language: str = "",
    is_auto_reply: bool = False,
    thread_key: str = "",
    references: Iterable[str] = (),
) -> NormalizedMessage:
    number = next(_counter)
    address = email or f"buyer{number}@example.org"
    return NormalizedMessage(
        channel=channel,
        external_id=f"msg-{number}@mail.example.org",
        customer=CustomerHandle(kind=ChannelIdentity.Kind.EMAIL, value=address, display_name="Marta Gil", email=address),
        body_text=text,
        visible_text=text,
        subject=subject,
        marketplace=marketplace,
        language=language,
        is_auto_reply=is_auto_reply,
        thread_key=thread_key,
        references=list(references),
        metadata={"message_id": f"msg-{number}@mail.example.org", "from": address},
    )


def thread(account: ChannelAccount, normalized: NormalizedMessage) -> tuple[Ticket, Message]:
    """Run a message through the ingest path; returns its ticket (fresh from the database) and message."""
    outcome = ingest_message(account=account, normalized=normalized)
    assert outcome.message_id is not None, outcome
    message = Message.objects.get(pk=outcome.message_id)
    return Ticket.objects.get(pk=outcome.ticket_id), message


def fresh_rules() -> None:
    """Tests change rules inside one transaction: drop this process's compiled copy."""
    forget_rules()
