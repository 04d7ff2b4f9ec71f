"""Automation rules through the real ingest path: every condition, every action, the order rules
run in, "stop here", triggers, and the per-process cache (no query for a store without rules)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache

from tests.factories import (
    ChannelAccountFactory,
    StoreFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
)
from tests.routing_helpers import customer_message, make_agent, thread
from tickets.models import (
    AutomationRule,
    BusinessCalendar,
    BusinessHoursPeriod,
    Channel,
    Ticket,
    TicketEvent,
)
from tickets.routing import rules as rules_module
from tickets.routing.rules import CUSTOMER_REPLIED, TICKET_CREATED, current_rules, run_rules

pytestmark = pytest.mark.django_db

MADRID = ZoneInfo("Europe/Madrid")


@pytest.fixture
def store():
    return StoreFactory(name="Casa Lumbre", slug="casa-lumbre", default_language="es")


@pytest.fixture
def account(store):
    return ChannelAccountFactory(store=store, channel=Channel.EMAIL, provider="imap")


def rule(**fields) -> AutomationRule:
    fields.setdefault("name", "Rule")
    tags = fields.pop("tags", [])
    add_tags = fields.pop("add_tags", [])
    created = AutomationRule.objects.create(**fields)
    created.tags.set(tags)
    created.add_tags.set(add_tags)
    return created


def urgent_rule(**conditions) -> AutomationRule:
    return rule(name="Urgent", set_priority=Ticket.Priority.URGENT, **conditions)


def is_urgent(account, **message) -> bool:
    ticket, _ = thread(account, customer_message(**message))
    return ticket.priority == Ticket.Priority.URGENT


# --- Conditions ---------------------------------------------------------------------------------


def test_a_rule_without_conditions_matches_every_new_ticket(account):
    urgent_rule()
    assert is_urgent(account)


def test_store_condition(account, store):
    urgent_rule(store=StoreFactory(slug="other-store"))
    assert not is_urgent(account)
    urgent_rule(store=store)
    assert is_urgent(account)


def test_channel_condition(account):
    urgent_rule(channels=[Channel.WHATSAPP, Channel.SMS])
    assert not is_urgent(account)
    urgent_rule(channels=[Channel.EMAIL])
    assert is_urgent(account)


@pytest.mark.parametrize(("subject", "matched"), [
    ("Reembolso pedido 1042", True),
    ("REEMBOLSO", True),
    ("Devolución", True),  # accents and case do not matter: the rule says "devolucion"
    ("Where is my parcel?", False),
])
def test_subject_contains_any_phrase(account, subject, matched):
    urgent_rule(subject_contains=["reembolso", "devolucion"])
    assert is_urgent(account, subject=subject, text="Hola") is matched


def test_subject_condition_does_not_look_at_the_text(account):
    urgent_rule(subject_contains=["refund"])
    assert not is_urgent(account, subject="Order 1042", text="I want a refund")


def test_text_contains_looks_at_the_message_and_the_subject(account):
    urgent_rule(text_contains=["chargeback", "abogado"])
    assert is_urgent(account, subject="Pedido", text="Hablaré con mi ABOGADO.")
    assert is_urgent(account, subject="Chargeback filed", text="Hello")
    assert not is_urgent(account, subject="Pedido", text="¿Cuándo llega?")


def test_language_condition_matches_the_primary_language(account):
    urgent_rule(languages=["ro"])
    assert is_urgent(account, language="ro-RO")
    assert not is_urgent(account, language="es")


def test_marketplace_condition_matches_exact_names_and_whole_marketplaces(account):
    urgent_rule(marketplaces=["amazon"])
    assert is_urgent(account, channel=Channel.AMAZON, marketplace="amazon.es")
    assert not is_urgent(account, channel=Channel.EMAIL)
    AutomationRule.objects.all().delete()
    urgent_rule(marketplaces=["amazon.de"])
    assert not is_urgent(account, channel=Channel.AMAZON, marketplace="amazon.es")
    assert is_urgent(account, channel=Channel.AMAZON, marketplace="amazon.de")


def test_priority_condition_sees_what_an_earlier_rule_set(account):
    team = TeamFactory(name="Escalations")
    rule(name="Lawyers are urgent", position=1, text_contains=["abogado"], set_priority=Ticket.Priority.URGENT)
    rule(name="Urgent to escalations", position=2, priorities=[Ticket.Priority.URGENT], set_team=team)

    urgent, _ = thread(account, customer_message(text="Mi abogado le escribirá"))
    normal, _ = thread(account, customer_message(text="Hola"))

    assert (urgent.priority, urgent.team) == (Ticket.Priority.URGENT, team)
    assert (normal.priority, normal.team) == (Ticket.Priority.NORMAL, None)


def test_tag_condition_sees_tags_added_by_an_earlier_rule(account):
    vip, escalate = TagFactory(name="vip"), TagFactory(name="escalate")
    rule(name="Tag VIP", position=1, text_contains=["gold member"], add_tags=[vip])
    rule(name="VIP escalate", position=2, tags=[vip], add_tags=[escalate])

    tagged, _ = thread(account, customer_message(text="I am a gold member"))
    plain, _ = thread(account, customer_message(text="hello"))

    assert sorted(tagged.tags.values_list("name", flat=True)) == ["escalate", "vip"]
    assert plain.tags.count() == 0


@pytest.fixture
def office_hours():
    calendar = BusinessCalendar.objects.create(name="Madrid office", time_zone="Europe/Madrid")
    for weekday in range(5):
        BusinessHoursPeriod.objects.create(calendar=calendar, weekday=weekday, opens_at=dt.time(9), closes_at=dt.time(18))
    return calendar


@pytest.mark.parametrize(("moment", "inside"), [
    (dt.datetime(2026, 11, 23, 10, 0, tzinfo=MADRID), True),  # Monday morning
    (dt.datetime(2026, 11, 23, 19, 0, tzinfo=MADRID), False),  # Monday evening
    (dt.datetime(2026, 11, 21, 11, 0, tzinfo=MADRID), False),  # Saturday
])
def test_business_hours_condition(account, office_hours, moment, inside):
    night_team = TeamFactory(name="Night shift")
    rule(name="Outside hours", business_hours=AutomationRule.BusinessHours.OUTSIDE, calendar=office_hours,
         set_team=night_team)
    rule(name="Inside hours", business_hours=AutomationRule.BusinessHours.INSIDE, calendar=office_hours,
         set_priority=Ticket.Priority.HIGH)

    with time_machine.travel(moment, tick=False):
        ticket, _ = thread(account, customer_message())

    assert (ticket.team is None) is inside
    assert (ticket.priority == Ticket.Priority.HIGH) is inside


def test_every_condition_must_hold(account):
    urgent_rule(channels=[Channel.EMAIL], text_contains=["refund"], languages=["en"])
    assert is_urgent(account, text="refund please", language="en")
    assert not is_urgent(account, text="refund please", language="es")
    assert not is_urgent(account, text="hello", language="en")


# --- Actions ------------------------------------------------------------------------------------


def test_actions_set_team_priority_tags_and_language_and_leave_a_trace(account):
    team = TeamFactory(name="Soporte ES")
    existing, added = TagFactory(name="pedido"), TagFactory(name="reembolso")
    applied = rule(name="Refunds", text_contains=["reembolso"], set_team=team, set_priority=Ticket.Priority.HIGH,
                   add_tags=[existing, added], set_language="es")

    ticket, _ = thread(account, customer_message(text="Quiero un reembolso", language="en"))

    assert ticket.team == team
    assert ticket.priority == Ticket.Priority.HIGH
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["pedido", "reembolso"]
    assert ticket.language == "es"
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.RULE_APPLIED)
    assert event.data == {
        "rule_id": applied.pk, "rule": "Refunds", "trigger": "ticket_created",
        "changes": {
            "team": {"from": None, "to": team.pk},
            "priority": {"from": Ticket.Priority.NORMAL, "to": Ticket.Priority.HIGH},
            "tags_added": ["pedido", "reembolso"],
            "language": {"from": "en", "to": "es"},
        },
    }
    kinds = set(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert {"team_changed", "priority_changed", "tagged"} <= kinds


def test_adding_tags_keeps_the_tickets_own(account):
    own, added = TagFactory(name="own"), TagFactory(name="added")
    ticket = TicketFactory(store=account.store, channel_account=account)
    ticket.tags.add(own)
    rule(name="Tag", add_tags=[added], on_ticket_created=False, on_customer_replied=True)

    run_rules(ticket, CUSTOMER_REPLIED)

    assert sorted(ticket.tags.values_list("name", flat=True)) == ["added", "own"]


def test_assign_action_gives_the_ticket_to_the_next_agent_of_its_team(account, django_capture_on_commit_callbacks):
    team = TeamFactory(name="Manual team", auto_assign=False)
    ana = make_agent("ana", team)
    rule(name="Assign", set_team=team, assign=True)

    with django_capture_on_commit_callbacks(execute=True):
        ticket, _ = thread(account, customer_message())

    ticket.refresh_from_db()
    assert ticket.assignee == ana


def test_without_the_assign_action_a_manual_team_leaves_the_ticket_unassigned(
    account, django_capture_on_commit_callbacks
):
    team = TeamFactory(name="Manual team", auto_assign=False)
    make_agent("ana", team)
    rule(name="Team only", set_team=team)

    with django_capture_on_commit_callbacks(execute=True):
        ticket, _ = thread(account, customer_message())

    ticket.refresh_from_db()
    assert ticket.team == team and ticket.assignee is None


# --- Order, stop, triggers, activity ------------------------------------------------------------


def test_rules_run_in_position_order_and_the_last_word_wins(account):
    rule(name="Second", position=20, set_priority=Ticket.Priority.LOW)
    rule(name="First", position=10, set_priority=Ticket.Priority.URGENT)

    ticket, _ = thread(account, customer_message())

    assert ticket.priority == Ticket.Priority.LOW
    names = [e.data["rule"] for e in TicketEvent.objects.filter(ticket=ticket, kind="rule_applied").order_by("pk")]
    assert names == ["First", "Second"]


def test_stop_here_ends_the_run_when_it_matches(account):
    rule(name="VIP", position=10, text_contains=["vip"], set_priority=Ticket.Priority.URGENT, stop_processing=True)
    rule(name="Everyone low", position=20, set_priority=Ticket.Priority.LOW)

    vip, _ = thread(account, customer_message(text="VIP customer here"))
    other, _ = thread(account, customer_message(text="hello"))

    assert vip.priority == Ticket.Priority.URGENT
    assert other.priority == Ticket.Priority.LOW


def test_triggers_new_ticket_and_customer_reply(account):
    rule(name="On create", on_ticket_created=True, on_customer_replied=False, add_tags=[TagFactory(name="created")])
    rule(name="On reply", on_ticket_created=False, on_customer_replied=True, add_tags=[TagFactory(name="replied")])

    ticket, _ = thread(account, customer_message(email="marta@example.es", thread_key="conv-7"))
    assert list(ticket.tags.values_list("name", flat=True)) == ["created"]

    again, _ = thread(account, customer_message(email="marta@example.es", thread_key="conv-7", text="Any news?"))
    assert again.pk == ticket.pk
    assert sorted(again.tags.values_list("name", flat=True)) == ["created", "replied"]


def test_inactive_rules_do_nothing(account):
    urgent_rule(is_active=False)
    assert not is_urgent(account)


def test_automatic_replies_never_run_rules(account):
    rule(name="On reply", on_ticket_created=False, on_customer_replied=True, set_priority=Ticket.Priority.URGENT)
    ticket, _ = thread(account, customer_message(email="marta@example.es", thread_key="conv-9"))

    thread(account, customer_message(email="marta@example.es", thread_key="conv-9", is_auto_reply=True,
                                     subject="Out of office"))

    ticket.refresh_from_db()
    assert ticket.priority == Ticket.Priority.NORMAL
    assert not TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.RULE_APPLIED).exists()


def test_unknown_trigger_is_refused(account):
    with pytest.raises(ValueError):
        run_rules(TicketFactory(store=account.store), "ticket_deleted")


# --- The compiled-rules cache -------------------------------------------------------------------


def test_a_store_without_rules_costs_no_query(account, django_assert_num_queries):
    urgent_rule(store=StoreFactory(slug="another-store"))
    ticket = TicketFactory(store=account.store, channel_account=account)
    current_rules()  # this process loads the rules once

    with django_assert_num_queries(0):
        outcome = run_rules(ticket, TICKET_CREATED)

    assert outcome.applied == []


def test_saving_a_rule_is_seen_by_this_process_at_once(account):
    assert not is_urgent(account)
    urgent_rule()
    assert is_urgent(account)


def test_other_processes_reload_when_the_shared_generation_changes(account, monkeypatch):
    current_rules()
    # Written without signals, as another process's change would look from here.
    AutomationRule.objects.bulk_create([AutomationRule(name="Urgent", set_priority=Ticket.Priority.URGENT)])
    monkeypatch.setattr(rules_module, "CHECK_EVERY_SECONDS", 0.0)
    assert not is_urgent(account)  # same generation: the compiled copy stands

    cache.set(rules_module.GENERATION_KEY, "changed-elsewhere", timeout=None)

    assert is_urgent(account)


def test_the_shared_generation_changes_after_a_rule_is_committed(django_capture_on_commit_callbacks):
    current_rules()
    before = cache.get(rules_module.GENERATION_KEY)

    with django_capture_on_commit_callbacks(execute=True):
        urgent_rule()

    assert cache.get(rules_module.GENERATION_KEY) not in (None, before)


def test_a_failing_rule_is_undone_alone_and_the_message_still_threads(account):
    # The team is set, then 9 is refused as a priority: the team change must be undone too.
    rule(name="Broken", position=1, set_team=TeamFactory(name="Half done"), set_priority=9)
    rule(name="Fine", position=2, set_priority=Ticket.Priority.HIGH)

    ticket, message = thread(account, customer_message(text="Hola"))

    assert message.ticket_id == ticket.pk
    assert ticket.priority == Ticket.Priority.HIGH
    assert ticket.team is None
    assert not TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.TEAM_CHANGED).exists()
    applied = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.RULE_APPLIED)
    assert [event.data["rule"] for event in applied] == ["Fine"]
