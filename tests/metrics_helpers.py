"""Test helpers for the metrics tests: a realistic mixed history built through the business
actions, and an independent recomputation of the daily rollups from raw rows in Python."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings

from metrics.buckets import BUCKET_COUNT, bucket_of
from metrics.models import COUNTERS, HISTOGRAMS, DailyRollup
from surveys import actions as survey_actions
from surveys.models import Survey, SurveyAnswer
from tests.factories import CustomerFactory, StoreFactory, TeamFactory, UserFactory
from tickets import actions
from tickets.models import Message, ResponseFact, Ticket, TicketEvent

OPEN = ("new", "open", "pending", "on_hold")


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(settings.TIME_ZONE))


def answer(ticket: Ticket, kind: str, score: int, when: dt.datetime, comment: str = "") -> SurveyAnswer:
    survey = Survey.objects.filter(ticket=ticket).first() or Survey.objects.create(
        ticket=ticket, store=ticket.store, customer=ticket.customer, channel=ticket.channel,
        kinds=["csat", "nps", "ces"], status=Survey.Status.SENT, due_at=when, sent_at=when,
        expires_at=when + dt.timedelta(days=30),
    )
    return survey_actions.record_answer(survey=survey, kind=kind, score=score, comment=comment, now=when)


def build_history(today: dt.date) -> dict:
    """Four days of work on two stores, channels, teams and agents: replies, notes, automatic
    replies, reassignment, team changes, solves, reopenings (by message and by hand), a merge,
    a ticket created just before midnight and assigned after it, survey answers and a changed one."""
    d = [today - dt.timedelta(days=n) for n in (3, 2, 1, 0)]
    spain, romania = StoreFactory(slug="m-spain"), StoreFactory(slug="m-romania")
    support, billing = TeamFactory(name="Support", store=spain), TeamFactory(name="Billing", store=None)
    alice, bob = UserFactory(username="m-alice", role="agent"), UserFactory(username="m-bob", role="agent")
    ana, ion = CustomerFactory(), CustomerFactory()

    t1 = actions.create_ticket(store=spain, channel="email", customer=ana, subject="Where is my parcel", created_at=at(d[0], 9))
    actions.add_message(ticket=t1, direction="inbound", body_text="Hello", created_at=at(d[0], 9))
    actions.assign_ticket(ticket=t1, assignee=alice, team=support, created_at=at(d[0], 9, 30))
    actions.add_message(ticket=t1, direction="inbound", body_text="I am away", is_auto_reply=True, created_at=at(d[0], 9, 40))
    actions.add_message(ticket=t1, direction="note", body_text="check carrier", author_user=alice, created_at=at(d[0], 9, 50))
    actions.add_message(ticket=t1, direction="outbound", body_text="On its way", author_user=alice, created_at=at(d[0], 11, 2))
    actions.change_status(ticket=t1, status="solved", actor=alice, created_at=at(d[0], 11, 5))
    answer(t1, "csat", 5, at(d[0], 15))
    answer(t1, "nps", 9, at(d[0], 15, 1), comment="=HYPERLINK(\"x\")")

    # The customer writes again the next day: reopened, moved to Billing and to Bob, solved again.
    actions.add_message(ticket=t1, direction="inbound", body_text="Not arrived", created_at=at(d[1], 8))
    actions.set_team(ticket=t1, team=billing, created_at=at(d[1], 8, 30))
    actions.assign_ticket(ticket=t1, assignee=bob, created_at=at(d[1], 8, 31))
    actions.add_message(ticket=t1, direction="outbound", body_text="Refunded", author_user=bob, created_at=at(d[1], 12))
    actions.change_status(ticket=t1, status="solved", actor=bob, created_at=at(d[1], 12, 1))

    # Created just before midnight, assigned after it: the creation counts for nobody.
    t2 = actions.create_ticket(store=romania, channel="chat", customer=ion, created_at=at(d[1], 23, 50))
    actions.add_message(ticket=t2, direction="inbound", body_text="Salut", created_at=at(d[1], 23, 50))
    actions.assign_ticket(ticket=t2, assignee=bob, team=billing, created_at=at(d[2], 0, 10))
    actions.add_message(ticket=t2, direction="outbound", body_text="Bună", author_user=bob, created_at=at(d[2], 0, 20))
    actions.change_status(ticket=t2, status="closed", actor=bob, created_at=at(d[2], 1))
    answer(t2, "csat", 2, at(d[2], 9), comment="slow")
    answer(t2, "csat", 3, at(d[2], 10), comment="slow, but fine")  # changed: moves from 2 to 3
    answer(t2, "ces", 6, at(d[2], 10, 5))

    # Team first, then the agent, the same day: the creation counts for both.
    t3 = actions.create_ticket(store=spain, channel="email", customer=ion, created_at=at(d[2], 10))
    actions.add_message(ticket=t3, direction="inbound", body_text="Invoice?", created_at=at(d[2], 10))
    actions.set_team(ticket=t3, team=support, created_at=at(d[2], 10, 5))
    actions.assign_ticket(ticket=t3, assignee=alice, created_at=at(d[2], 10, 6))
    actions.add_message(ticket=t3, direction="outbound", body_text="Attached", author_user=alice, created_at=at(d[2], 14))
    actions.change_status(ticket=t3, status="solved", actor=alice, created_at=at(d[2], 14, 1))
    actions.change_status(ticket=t3, status="open", actor=alice, created_at=at(d[2], 14, 30))  # reopened by hand
    t4 = actions.create_ticket(store=spain, channel="email", customer=ion, created_at=at(d[2], 15))
    actions.add_message(ticket=t4, direction="inbound", body_text="Same invoice", created_at=at(d[2], 15))
    actions.merge_tickets(source=t4, target=t3, actor=alice)

    # Today: open work, an answer, a quick reply.
    t5 = actions.create_ticket(store=romania, channel="email", customer=ana, created_at=at(d[3], 0, 30))
    actions.add_message(ticket=t5, direction="inbound", body_text="Hi", created_at=at(d[3], 0, 30))
    actions.assign_ticket(ticket=t5, assignee=alice, created_at=at(d[3], 0, 31))
    actions.add_message(ticket=t5, direction="outbound", body_text="Hi!", author_user=alice, created_at=at(d[3], 0, 40))
    return {"days": d, "stores": (spain, romania), "teams": (support, billing), "agents": (alice, bob)}


def _empty() -> dict:
    row = dict.fromkeys(COUNTERS, 0)
    for name in HISTOGRAMS:
        row[name] = [0] * BUCKET_COUNT
    row.update(csat_scores=[0] * 5, nps_scores=[0] * 11, ces_scores=[0] * 7)
    return row


def _attribute(ticket: Ticket, kind: str, until: dt.datetime, current) -> int | None:
    events = sorted(
        (e for e in ticket.events.all() if e.kind == kind), key=lambda e: (e.created_at, e.pk)
    )
    before = [e for e in events if e.created_at < until]
    if before:
        return before[-1].data.get("to")
    after = [e for e in events if e.created_at >= until]
    if after:
        return after[0].data.get("from")
    return current


def expected_rollups() -> dict[tuple, dict]:
    """The rollups recomputed in Python from the raw rows, by the definitions in metrics.rollup."""
    zone = ZoneInfo(settings.TIME_ZONE)
    rows: dict[tuple, dict] = defaultdict(_empty)

    def local(moment: dt.datetime) -> dt.date:
        return moment.astimezone(zone).date()

    for event in TicketEvent.objects.select_related("ticket").prefetch_related("ticket__events").filter(
        kind__in=["created", "status_changed", "reopened", "message"]
    ):
        ticket, day = event.ticket, local(event.created_at)
        until = event.created_at + dt.timedelta(microseconds=1)
        channel, author = ticket.channel, None
        counter = None
        if event.kind == "created":
            counter = "created"
            until = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
        elif event.kind == "reopened":
            counter = "reopened"
        elif event.kind == "status_changed":
            old, new = event.data["from"], event.data["to"]
            if new == "solved" or (new == "closed" and old not in ("solved", "closed")):
                counter = "solved"
            elif old in ("solved", "closed") and new in OPEN:
                counter = "reopened"
        else:
            message = Message.objects.get(pk=event.data["message_id"])
            channel = message.channel
            if message.direction == "outbound":
                counter, author = "messages_out", message.author_user_id
            elif message.direction == "inbound" and not message.is_auto_reply:
                counter = "messages_in"
        if counter is None:
            continue
        team = _attribute(ticket, "team_changed", until, ticket.team_id)
        agent = author or _attribute(ticket, "assigned", until, ticket.assignee_id)
        rows[(day, ticket.store_id, channel, team, agent)][counter] += 1

    for fact in ResponseFact.objects.filter(completed_at__isnull=False):
        row = rows[(local(fact.completed_at), fact.store_id, fact.channel, fact.team_id, fact.agent_id)]
        prefix = {"first_response": "first_response", "resolution": "resolution"}.get(fact.kind)
        if prefix:
            row[f"{prefix}_count"] += 1
            if fact.business_seconds is not None:
                row[f"{prefix}_business_hist"][bucket_of(fact.business_seconds)] += 1
            if fact.calendar_seconds is not None:
                row[f"{prefix}_calendar_hist"][bucket_of(fact.calendar_seconds)] += 1
        if fact.due_at is not None and fact.breached is not None:
            row["sla_breached" if fact.breached else "sla_met"] += 1

    for item in SurveyAnswer.objects.all():
        row = rows[(local(item.answered_at), item.store_id, item.channel, item.team_id, item.agent_id)]
        name, low = {"csat": ("csat_scores", 1), "nps": ("nps_scores", 0), "ces": ("ces_scores", 1)}[item.kind]
        row[name][item.score - low] += 1
    return dict(rows)


def stored_rollups() -> dict[tuple, dict]:
    fields = [*COUNTERS, *HISTOGRAMS, "csat_scores", "nps_scores", "ces_scores"]
    return {
        (r.day, r.store_id, r.channel, r.team_id, r.agent_id): {f: getattr(r, f) for f in fields}
        for r in DailyRollup.objects.all()
    }


def store_rollups_match_fine_rollups() -> bool:
    """The summary tables hold DailyRollup's rows summed over the columns they drop."""
    from metrics.models import (
        AgentDailyRollup,
        AgentMonthlyRollup,
        MonthlyRollup,
        StoreDailyRollup,
        StoreMonthlyRollup,
    )

    def month(day):
        return day.replace(day=1)

    fields = [*COUNTERS, *HISTOGRAMS, "csat_scores", "nps_scores", "ces_scores"]
    fine = stored_rollups()
    for model, key_of in (
        (StoreDailyRollup, lambda day, store, channel, team, agent: (day, store, channel)),
        (AgentDailyRollup, lambda day, store, channel, team, agent: (day, store, team, agent)),
        (MonthlyRollup, lambda day, store, channel, team, agent: (month(day), store, channel, team, agent)),
        (StoreMonthlyRollup, lambda day, store, channel, team, agent: (month(day), store, channel)),
        (AgentMonthlyRollup, lambda day, store, channel, team, agent: (month(day), store, team, agent)),
    ):
        summed: dict[tuple, dict] = defaultdict(_empty)
        for key, row in fine.items():
            target = summed[key_of(*key)]
            for name, value in row.items():
                target[name] = (
                    [a + b for a, b in zip(target[name], value, strict=True)] if isinstance(value, list)
                    else target[name] + value
                )
        keys = [name for name in ("store_id", "channel", "team_id", "agent_id") if hasattr(model, name)]
        stored = {(r.day, *(getattr(r, name) for name in keys)): {f: getattr(r, f) for f in fields}
                  for r in model.objects.all()}
        if stored != dict(summed):
            return False
    return True
