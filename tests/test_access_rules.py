"""The visibility rule itself (tickets.access): which tickets, customers, orders and stores each
person sees, computed once per user and answered without queries where the store set suffices."""

from __future__ import annotations

import pytest

from tests.access_world import build_world
from tests.factories import StoreFactory, TeamFactory, TicketFactory, UserFactory, agent_of
from tickets import access
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return build_world()


def ticket_ids(user) -> set[int]:
    return set(access.visible_tickets(user).values_list("pk", flat=True))


def test_an_agent_of_one_store_sees_only_that_stores_tickets(world):
    spanish = set(Ticket.objects.filter(store=world.spain.store).values_list("pk", flat=True))
    assert ticket_ids(world.lucia) == spanish
    assert ticket_ids(world.andrei) == {world.romania.ticket.pk, world.team_ticket.pk, world.assigned_ticket.pk}
    assert access.visible_store_ids(world.lucia) == frozenset({world.spain.store.pk})


def test_visible_to_on_the_manager_is_the_same_rule(world):
    assert set(Ticket.objects.visible_to(world.lucia).values_list("pk", flat=True)) == ticket_ids(world.lucia)
    # and it narrows an existing queryset rather than starting again
    assert not Ticket.objects.filter(store=world.romania.store).visible_to(world.lucia).exists()


def test_a_team_member_also_sees_the_teams_tickets_of_another_store(world):
    assert world.team_ticket.pk in ticket_ids(world.tomas)
    assert world.romania.ticket.pk not in ticket_ids(world.tomas)
    assert world.spain.ticket.pk in ticket_ids(world.tomas)  # the team's store


def test_an_agent_sees_a_ticket_assigned_to_them_in_another_store(world):
    assert world.assigned_ticket.pk in ticket_ids(world.ioana)
    assert world.romania.ticket.pk not in ticket_ids(world.ioana)
    assert world.assigned_ticket.pk not in ticket_ids(world.lucia)


def test_managers_see_the_stores_of_the_teams_they_lead_or_belong_to(world):
    assert world.spain.ticket.pk in ticket_ids(world.marta)
    assert world.romania.ticket.pk not in ticket_ids(world.marta)
    assert world.romania.ticket.pk in ticket_ids(world.radu)
    assert world.spain.ticket.pk not in ticket_ids(world.radu)


def test_admins_and_users_without_stores_or_teams_see_everything(world):
    everything = set(Ticket.objects.values_list("pk", flat=True))
    assert ticket_ids(world.admin) == everything
    assert ticket_ids(world.emma) == everything  # the one-shop default
    assert access.visible_store_ids(world.emma) is None
    assert access.visible_store_ids(world.admin) is None


def test_a_team_without_a_store_shows_its_own_tickets_of_every_store_not_every_store(world):
    marketplaces = TeamFactory(name="Marketplaces", store=None)
    amazon = TicketFactory(store=world.romania.store, team=marketplaces, subject="Amazon buyer")
    lucia_too = agent_of(world.spain.store, username="lucia-too", teams=[world.spain.team, marketplaces])
    assert access.visible_store_ids(lucia_too) == frozenset({world.spain.store.pk})
    assert amazon.pk in ticket_ids(lucia_too)
    assert world.romania.ticket.pk not in ticket_ids(lucia_too)
    # bound to no store through it: someone whose only team has no store sees every store
    only = agent_of(username="marketplaces-only", teams=[marketplaces])
    assert access.visible_store_ids(only) is None
    assert world.romania.ticket.pk in ticket_ids(only)


def test_anonymous_and_non_helpdesk_users_see_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    inactive = agent_of(world.spain.store, username="gone")
    inactive.is_active = False
    for user in (AnonymousUser(), world.mallory, inactive, None):
        assert not access.visible_tickets(user).exists()
        assert not access.visible_customers(user).exists()
        assert not access.visible_orders(user).exists()
        assert not access.visible_stores(user).exists()
        assert access.can_view_ticket(user, world.spain.ticket) is False


def test_customers_are_visible_through_a_visible_ticket_or_an_order_in_a_visible_store(world):
    lucia = set(access.visible_customers(world.lucia).values_list("pk", flat=True))
    assert world.spain.customer.pk in lucia
    assert world.both.pk in lucia
    assert world.romania.customer.pk not in lucia
    andrei = set(access.visible_customers(world.andrei).values_list("pk", flat=True))
    assert world.both.pk in andrei  # an order in Romania, no Romanian ticket
    assert world.spain.customer.pk not in andrei
    assert world.team_ticket.customer_id in set(access.visible_customers(world.tomas).values_list("pk", flat=True))


def test_a_merged_customer_stays_visible_with_its_survivor(world):
    from tests.factories import CustomerFactory

    old = CustomerFactory(name="Old record", merged_into=world.spain.customer)
    assert access.visible_customers(world.lucia).filter(pk=old.pk).exists()
    assert not access.visible_customers(world.andrei).filter(pk=old.pk).exists()


def test_orders_of_visible_stores_and_of_tickets_seen_through_a_team_or_assignment(world):
    from tests.factories import OrderFactory

    team_order = OrderFactory(store=world.romania.store, number="#RO-TEAM")
    world.team_ticket.orders.add(team_order)
    lucia = set(access.visible_orders(world.lucia).values_list("pk", flat=True))
    assert world.spain.order.pk in lucia
    assert world.romania.order.pk not in lucia and world.both_romania_order.pk not in lucia
    assert team_order.pk not in lucia
    assert team_order.pk in set(access.visible_orders(world.tomas).values_list("pk", flat=True))
    assert access.can_view_order(world.tomas, team_order) is True
    assert access.can_view_order(world.lucia, team_order) is False


def test_can_view_ticket_needs_no_query_once_memberships_are_known(world, django_assert_num_queries):
    access.visibility(world.ioana)  # the memberships, read once
    with django_assert_num_queries(0):
        assert access.can_view_ticket(world.ioana, world.spain.ticket) is True
        assert access.can_view_ticket(world.ioana, world.assigned_ticket) is True
        assert access.can_view_ticket(world.ioana, world.romania.ticket) is False
        assert access.can_view_ticket(world.ioana, world.team_ticket) is False
        assert access.can_view_order(world.ioana, world.spain.order) is True


def test_memberships_are_read_once_per_user_object(world, django_assert_max_num_queries, django_assert_num_queries):
    user = type(world.lucia).objects.select_related("agent_profile").get(pk=world.lucia.pk)
    with django_assert_max_num_queries(2):
        access.visible_store_ids(user)
    with django_assert_num_queries(0):
        for _ in range(5):
            access.visible_store_ids(user)
            access.can_view_ticket(user, world.spain.ticket)


def test_a_new_store_membership_counts_once_the_cache_is_forgotten(world):
    user = world.lucia
    assert world.romania.ticket.pk not in ticket_ids(user)
    user.agent_profile.stores.add(world.romania.store)
    access.forget_visibility(user)
    assert world.romania.ticket.pk in ticket_ids(user)


def test_profile_stores_and_team_stores_add_up(world):
    both = agent_of(world.romania.store, username="both-ways", teams=[world.spain.team])
    assert access.visible_store_ids(both) == frozenset({world.spain.store.pk, world.romania.store.pk})


def test_managed_stores_for_the_dashboards(world):
    lonely = UserFactory(username="lonely-manager", role="manager")
    assert access.managed_store_ids(world.marta) == frozenset({world.spain.store.pk})
    assert access.managed_store_ids(world.radu) == frozenset({world.romania.store.pk})
    assert access.managed_store_ids(lonely) == frozenset()  # manages nothing until given a team or store
    assert access.visible_store_ids(lonely) is None  # but reads every store's tickets, like any default user
    assert access.managed_store_ids(world.admin) is None
    everywhere = agent_of(username="everywhere-manager", role="manager", leads=[TeamFactory(name="All", store=None)])
    assert access.managed_store_ids(everywhere) is None
    assert access.managed_store_ids(world.lucia) == frozenset()  # agents: their own figures only


def test_visible_stores_lists_the_stores_for_filters(world):
    StoreFactory(slug="access-third")
    assert list(access.visible_stores(world.lucia)) == [world.spain.store]
    assert access.visible_stores(world.emma).count() == 3


def test_visibility_query_is_indexed_at_scale_shape(world):
    """The ticket condition is a plain OR of store, team and assignee ids (no join, no DISTINCT)."""
    sql = str(access.visible_tickets(world.tomas).query).lower()
    assert " join " not in sql and "distinct" not in sql
    sql = str(access.visible_customers(world.lucia).query).lower()
    assert "exists" in sql and "distinct" not in sql


def test_the_viewers_of_a_ticket_in_one_query_are_those_can_view_ticket_admits(world):
    """`viewers_condition` (lists of people, e.g. @mentions) applies the same rule as
    `can_view_ticket`, for every person of the world and every kind of ticket."""
    from tickets.mentions import helpdesk_users

    people = [world.lucia, world.andrei, world.marta, world.radu, world.emma, world.tomas, world.ioana,
              world.admin]
    tickets = [world.spain.ticket, world.romania.ticket, world.team_ticket, world.assigned_ticket,
               world.both_spain_ticket]
    for ticket in tickets:
        expected = {person.pk for person in people if access.can_view_ticket(person, ticket)}
        found = set(
            helpdesk_users().filter(pk__in=[person.pk for person in people])
            .filter(access.viewers_condition(ticket)).values_list("pk", flat=True)
        )
        assert found == expected, ticket.subject
    # The world has both kinds: people who see the Romanian team ticket and people who do not.
    assert 0 < len({p.pk for p in people if access.can_view_ticket(p, world.team_ticket)}) < len(people)
