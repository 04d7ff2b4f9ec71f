"""Policy matching: every condition must hold, an empty condition matches anything, and the
first policy by position wins."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CustomerFactory, StoreFactory, TagFactory, TicketFactory
from tickets.models import SLAPolicy, Ticket
from tickets.sla.engine import policy_for

pytestmark = pytest.mark.django_db


def policy(name: str, position: int = 100, **conditions) -> SLAPolicy:
    stores = conditions.pop("stores", [])
    tags = conditions.pop("tags", [])
    created = SLAPolicy.objects.create(name=name, position=position, hours=SLAPolicy.Hours.CALENDAR,
                                       first_response_minutes=60, **conditions)
    created.stores.set(stores)
    created.tags.set(tags)
    return created


def test_first_matching_policy_by_position_wins():
    policy("Catch-all", position=50)
    urgent = policy("Urgent", position=10, priorities=[Ticket.Priority.URGENT])
    assert policy_for(TicketFactory(priority=Ticket.Priority.URGENT)) == urgent
    assert policy_for(TicketFactory(priority=Ticket.Priority.LOW)).name == "Catch-all"


def test_no_policy_matches():
    policy("Amazon only", channels=["amazon"])
    assert policy_for(TicketFactory(channel="email")) is None


def test_inactive_policies_are_ignored():
    policy("Off", is_active=False)
    assert policy_for(TicketFactory()) is None


def test_store_channel_and_marketplace_conditions():
    spain = StoreFactory()
    amazon_es = policy("Amazon Spain", position=1, stores=[spain], channels=["amazon"], marketplaces=["amazon.es"])
    assert policy_for(TicketFactory(store=spain, channel="amazon", marketplace="amazon.es")) == amazon_es
    assert policy_for(TicketFactory(store=spain, channel="amazon", marketplace="amazon.de")) is None
    assert policy_for(TicketFactory(channel="amazon", marketplace="amazon.es")) is None  # another store
    assert policy_for(TicketFactory(store=spain, channel="ebay", marketplace="amazon.es")) is None


def test_tag_condition_needs_any_of_the_tags():
    vip, wholesale = TagFactory(name="vip"), TagFactory(name="wholesale")
    tagged = policy("VIP", position=1, tags=[vip, wholesale])
    ticket = TicketFactory()
    assert policy_for(ticket) is None
    ticket.tags.add(wholesale)
    assert policy_for(ticket) == tagged


def test_customer_attributes():
    romanian = policy("Romanian customers", position=1, customer_countries=["RO"], customer_languages=["ro"])
    business = policy("Business domain", position=2, customer_email_domains=["@acme.example"])
    assert policy_for(TicketFactory(customer=CustomerFactory(country="RO", language="ro"))) == romanian
    assert policy_for(TicketFactory(customer=CustomerFactory(country="RO", language="en"))) is None
    assert policy_for(TicketFactory(customer=CustomerFactory(email="Ana@ACME.example"))) == business


def test_matching_costs_no_query_without_tag_or_customer_conditions():
    policy("Email", channels=["email"])
    ticket = Ticket.objects.get(pk=TicketFactory().pk)
    policy_for(ticket)  # loads the cache
    with CaptureQueriesContext(connection) as queries:
        for _ in range(10):
            assert policy_for(ticket).name == "Email"
    assert len(queries) == 0


def test_a_changed_policy_is_seen_at_once_in_this_process():
    created = policy("Email", channels=["email"])
    ticket = TicketFactory(channel="email")
    assert policy_for(ticket) == created
    created.channels = ["sms"]
    created.save()
    assert policy_for(ticket) is None


@pytest.mark.django_db(transaction=True)
def test_other_processes_reload_after_the_commit(settings):
    from tickets.sla import cache

    settings.SLA_CONFIG_CHECK_SECONDS = 0
    ticket = TicketFactory(channel="email")
    assert policy_for(ticket) is None
    stale = cache.current()  # what another process holds
    policy("Email", channels=["email"])  # committed: a new version is published after the commit
    assert cache.current() is not stale
    # Another process still holding the old snapshot compares versions and reloads.
    cache._snapshot, cache._checked_at = stale, 0.0
    assert policy_for(ticket).name == "Email"
