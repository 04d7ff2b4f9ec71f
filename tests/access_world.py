"""Two stores and the people around them, for the tests of who sees what (tickets.access).

Spain and Romania each have a customer, a ticket with a message and an attachment, and an order
linked to the ticket. `both` is a customer of both stores. The people:

- lucia: an agent of Spain (profile store); andrei: an agent of Romania;
- marta: a manager who leads the Spanish team; radu: a manager in the Romanian team;
- emma: an agent with no store and no team (sees every store: the one-shop default);
- tomas: an agent in the Spanish returns team, which was given one Romanian ticket (team-only);
- ioana: an agent of Spain who is assigned one Romanian ticket (assigned-only);
- admin: an administrator; mallory: signed in without a helpdesk role.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.base import ContentFile

from tests.factories import (
    CustomerFactory,
    MessageFactory,
    OrderFactory,
    StoreFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
    agent_of,
)
from tickets.models import Attachment, Customer, Message, Order, Store, Team, Ticket


@dataclass
class Side:
    store: Store
    customer: Customer
    ticket: Ticket
    message: Message
    attachment: Attachment
    order: Order  # linked to `ticket`
    team: Team


@dataclass
class World:
    spain: Side
    romania: Side
    both: Customer
    both_spain_ticket: Ticket
    both_romania_order: Order
    team_ticket: Ticket  # Romanian, given to the Spanish returns team
    assigned_ticket: Ticket  # Romanian, assigned to ioana
    returns: Team
    lucia: object
    andrei: object
    marta: object
    radu: object
    emma: object
    tomas: object
    ioana: object
    admin: object
    mallory: object


def _side(slug: str, name: str, currency: str) -> Side:
    store = StoreFactory(slug=slug, name=name, currency=currency)
    customer = CustomerFactory(name=f"{name} customer", email=f"buyer@{slug}.example")
    ticket = TicketFactory(store=store, customer=customer, subject=f"{name} question")
    message = MessageFactory(ticket=ticket, body_text=f"{name} secret message")
    attachment = Attachment(message=message, filename=f"{slug}.pdf", content_type="application/pdf", size=9)
    attachment.file.save(f"{slug}.pdf", ContentFile(b"%PDF-" + slug.encode()), save=True)
    order = OrderFactory(store=store, customer=customer, number=f"#{slug.upper()}-1", currency=currency)
    ticket.orders.add(order)
    team = TeamFactory(name=f"{name} team", store=store)
    return Side(store, customer, ticket, message, attachment, order, team)


def build_world() -> World:
    spain = _side("access-es", "Spain", "EUR")
    romania = _side("access-ro", "Romania", "RON")
    both = CustomerFactory(name="Both stores", email="both@example.org")
    both_spain_ticket = TicketFactory(store=spain.store, customer=both, subject="Both: Spanish ticket")
    both_romania_order = OrderFactory(store=romania.store, customer=both, number="#RO-BOTH", currency="RON")
    returns = TeamFactory(name="Spanish returns", store=spain.store)
    team_ticket = TicketFactory(store=romania.store, customer=CustomerFactory(name="Team-only customer"),
                                team=returns, subject="Romanian ticket for the Spanish returns team")
    ioana = agent_of(spain.store, username="ioana")
    assigned_ticket = TicketFactory(store=romania.store, customer=CustomerFactory(name="Assigned customer"),
                                    assignee=ioana, subject="Romanian ticket assigned to ioana")
    return World(
        spain=spain, romania=romania, both=both, both_spain_ticket=both_spain_ticket,
        both_romania_order=both_romania_order, team_ticket=team_ticket, assigned_ticket=assigned_ticket,
        returns=returns,
        lucia=agent_of(spain.store, username="lucia"),
        andrei=agent_of(romania.store, username="andrei"),
        marta=agent_of(username="marta", role="manager", leads=[spain.team]),
        radu=agent_of(username="radu", role="manager", teams=[romania.team]),
        emma=UserFactory(username="emma", role="agent"),
        tomas=agent_of(username="tomas", teams=[returns]),
        ioana=ioana,
        admin=UserFactory(username="access-admin", role="admin"),
        mallory=UserFactory(username="access-mallory"),
    )
