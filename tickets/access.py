"""Who sees which tickets, customers and orders: the single source of visibility rules.

Every page, API endpoint and WebSocket that reads tickets, messages, customers or orders asks here
(README, "Who sees what"):

- **Administrators** (and superusers) see everything.
- An **agent** or **manager** sees the tickets of *their stores*: the stores ticked on their
  profile ("stores served") and the stores of their teams (the teams they belong to or lead);
  plus the tickets of their teams, whatever the store (a team without a store takes tickets of
  every store: its people see those tickets, not every store's), and the tickets assigned to them.
- A helpdesk user **bound to no store** (no store on their profile, no team with a store) sees
  every store: the default of a shop that has not divided its work, where every agent answers
  everything.
- **Customers**: those with a ticket the user sees or an order in one of their stores (and a
  merged customer when the customer it was merged into is visible, so old links resolve).
- **Orders**: those of the user's stores, and those linked to a ticket the user sees through a
  team or an assignment.
- Anyone else (anonymous, no helpdesk role, deactivated) sees nothing.

The memberships are read once per user object (two small indexed queries at most) and kept on it,
so a page that checks many rows never reads them again; a WebSocket reads them at connection, so
a new membership counts from the next connection. Queries use store-id sets and EXISTS subqueries,
never joins that would repeat rows: a ticket list gains a filter on indexed columns, a look-up by id
stays an index look-up (`make bench-access` prints what each list costs).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from tickets.models import AgentProfile, Customer, Order, Store, Team, Ticket
from tickets.roles import role_of

_CACHE_ATTRIBUTE = "_helpdesk_visibility"


@dataclass(frozen=True)
class Visibility:
    """What one user may read. `store_ids` None means every store; `user_id` None means nothing
    at all (not a helpdesk user)."""

    user_id: int | None
    store_ids: frozenset[int] | None
    team_ids: frozenset[int] = frozenset()
    # The stores whose figures a manager's dashboards show (metrics.scope); None: every store.
    managed_store_ids: frozenset[int] | None = frozenset()

    @property
    def sees_nothing(self) -> bool:
        return self.user_id is None

    @property
    def sees_every_store(self) -> bool:
        return self.user_id is not None and self.store_ids is None


NOTHING = Visibility(user_id=None, store_ids=frozenset())


def visibility(user) -> Visibility:
    """The user's visibility, computed once per user object."""
    if user is None:
        return NOTHING
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is None:
        cached = _compute(user)
        try:
            setattr(user, _CACHE_ATTRIBUTE, cached)
        except AttributeError:  # AnonymousUser and other objects without attributes of their own
            pass
    return cached


def forget_visibility(user) -> None:
    """Drop the cached visibility (after changing the user's stores or teams in the same process)."""
    if user is not None and hasattr(user, _CACHE_ATTRIBUTE):
        delattr(user, _CACHE_ATTRIBUTE)


def _compute(user) -> Visibility:
    role = role_of(user)
    if role is None:
        return NOTHING
    if role == AgentProfile.Role.ADMIN:
        return Visibility(user_id=user.pk, store_ids=None, managed_store_ids=None)
    profile = user.agent_profile
    profile_store_ids = set(
        AgentProfile.stores.through.objects.filter(agentprofile_id=profile.pk).values_list("store_id", flat=True)
    )
    teams = dict(
        Team.objects.filter(Q(lead_id=user.pk) | Q(pk__in=AgentProfile.teams.through.objects.filter(
            agentprofile_id=profile.pk).values("team_id")))
        .order_by()
        .values_list("pk", "store_id")
    )
    # Their stores: the profile's and those of their teams that have one. A team without a store
    # takes tickets of any store; it shows its people those tickets, not every store's.
    bound = profile_store_ids | {store_id for store_id in teams.values() if store_id is not None}
    stores = frozenset(bound) if bound else None  # bound to no store: the one-shop default, every store
    managed: frozenset[int] | None = frozenset()
    if role == AgentProfile.Role.MANAGER:
        # A manager manages their stores; one whose teams have no store manages every store, one
        # in no team and no store nothing (yet).
        managed = frozenset(bound) if bound else (None if teams else frozenset())
    return Visibility(user_id=user.pk, store_ids=stores, team_ids=frozenset(teams), managed_store_ids=managed)


# --- Stores ---------------------------------------------------------------------------------


def visible_store_ids(user) -> frozenset[int] | None:
    """The stores whose data `user` may read; None means every store (an empty set: none)."""
    return visibility(user).store_ids


def visible_stores(user) -> QuerySet[Store]:
    """The stores themselves, e.g. for a filter's choices."""
    view = visibility(user)
    if view.sees_nothing:
        return Store.objects.none()
    stores = Store.objects.all()
    return stores if view.store_ids is None else stores.filter(pk__in=view.store_ids)


def managed_store_ids(user) -> frozenset[int] | None:
    """The stores whose figures a manager's dashboards show: the stores of their profile and of
    the teams they lead or belong to (None: every store). Empty for agents, whose dashboards
    show their own figures, and for a manager who belongs to no store or team."""
    return visibility(user).managed_store_ids


# --- Tickets --------------------------------------------------------------------------------


def ticket_condition(user, prefix: str = "") -> Q | None:
    """The condition a ticket row must meet to be visible, on a model that reaches tickets through
    `prefix` (e.g. "ticket__" on messages). None: no condition (every ticket). Callers must treat
    `sees_nothing` users separately (see `visible_tickets`)."""
    view = visibility(user)
    if view.store_ids is None:
        return None
    condition = Q(**{f"{prefix}store_id__in": view.store_ids})
    if view.team_ids:
        condition |= Q(**{f"{prefix}team_id__in": view.team_ids})
    if view.user_id is not None:
        condition |= Q(**{f"{prefix}assignee_id": view.user_id})
    return condition


def filter_tickets(queryset: QuerySet[Ticket], user) -> QuerySet[Ticket]:
    """`queryset` narrowed to the tickets `user` may read (Ticket.objects.visible_to calls this)."""
    view = visibility(user)
    if view.sees_nothing:
        return queryset.none()
    condition = ticket_condition(user)
    return queryset if condition is None else queryset.filter(condition)


def visible_tickets(user) -> QuerySet[Ticket]:
    return filter_tickets(Ticket.objects.all(), user)


def can_view_ticket(user, ticket: Ticket) -> bool:
    """Whether `user` may read `ticket`, from the ticket's own fields: no query once the user's
    memberships are known."""
    view = visibility(user)
    if view.sees_nothing:
        return False
    if view.store_ids is None or ticket.store_id in view.store_ids:
        return True
    return ticket.team_id in view.team_ids or (ticket.assignee_id is not None and ticket.assignee_id == view.user_id)


def viewers_condition(ticket: Ticket) -> Q:
    """The users who may read `ticket`, as one condition on the user table: the rule of
    `can_view_ticket` applied to every helpdesk user at once (for lists of people, such as the
    @mention autocomplete, without a query per person). Pair it with a filter to helpdesk users."""
    profile_stores = AgentProfile.stores.through.objects.filter(agentprofile_id=OuterRef("agent_profile"))
    their_teams = Team.objects.filter(Q(members=OuterRef("agent_profile")) | Q(lead_id=OuterRef("pk")))
    bound_to_stores = Exists(profile_stores) | Exists(their_teams.filter(store__isnull=False))
    condition = (
        Q(is_superuser=True) | Q(agent_profile__role=AgentProfile.Role.ADMIN) | ~bound_to_stores
        | Exists(profile_stores.filter(store_id=ticket.store_id))
        | Exists(their_teams.filter(store_id=ticket.store_id))
    )
    if ticket.team_id is not None:
        condition |= Exists(their_teams.filter(pk=ticket.team_id))
    if ticket.assignee_id is not None:
        condition |= Q(pk=ticket.assignee_id)
    return condition


# --- Customers and orders -------------------------------------------------------------------


def _customer_condition(user, outer: str):
    view = visibility(user)
    tickets = Ticket.objects.filter(customer_id=OuterRef(outer)).filter(ticket_condition(user))
    orders = Order.objects.filter(customer_id=OuterRef(outer), store_id__in=view.store_ids)
    return Exists(tickets) | Exists(orders)


def visible_customers(user) -> QuerySet[Customer]:
    """Customers with a ticket `user` sees or an order in one of their stores; a merged customer
    is visible with the customer it was merged into."""
    view = visibility(user)
    if view.sees_nothing:
        return Customer.objects.none()
    if view.store_ids is None:
        return Customer.objects.all()
    # The merged-customer test only runs on merged rows: PostgreSQL then never builds its subplans
    # for a list of ordinary customers.
    merged = Q(merged_into_id__isnull=False) & _customer_condition(user, "merged_into_id")
    return Customer.objects.filter(_customer_condition(user, "pk") | merged)


def can_view_customer(user, customer: Customer) -> bool:
    view = visibility(user)
    if view.sees_nothing:
        return False
    if view.store_ids is None:
        return True
    return visible_customers(user).filter(pk=customer.pk).exists()


def visible_orders(user) -> QuerySet[Order]:
    """Orders of `user`'s stores, and orders linked to a ticket they see through a team or an
    assignment (that ticket's page shows them)."""
    view = visibility(user)
    if view.sees_nothing:
        return Order.objects.none()
    if view.store_ids is None:
        return Order.objects.all()
    through = Ticket.orders.through.objects.filter(order_id=OuterRef("pk"))
    linked = Q(ticket__assignee_id=view.user_id)
    if view.team_ids:
        linked |= Q(ticket__team_id__in=view.team_ids)
    return Order.objects.filter(Q(store_id__in=view.store_ids) | Exists(through.filter(linked)))


def can_view_order(user, order: Order) -> bool:
    """No query when the order's store answers it."""
    view = visibility(user)
    if view.sees_nothing:
        return False
    if view.store_ids is None or order.store_id in view.store_ids:
        return True
    return visible_orders(user).filter(pk=order.pk).exists()
