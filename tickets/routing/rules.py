"""Automation rules: when a ticket is created or its customer replies, if every condition of a
rule holds, then its actions run. Rules run in `position` order; each sees what the earlier ones
changed; a matching rule marked "stop here" ends the run.

    run_rules(ticket, "ticket_created" | "customer_replied", message=the customer's message)

Rules are read on every inbound message, so they are kept compiled in each process and reloaded
only when one changes: saving a rule (or a team's automatic-assignment switch) bumps a generation
number in the shared cache, which each process compares at most once a second. A store without
rules therefore costs no database query per message.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from functools import partial

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets import actions
from tickets.models import (
    AutomationRule,
    BusinessCalendar,
    Channel,
    Message,
    Tag,
    Team,
    Ticket,
    TicketEvent,
)
from tickets.routing.acknowledgement import PLACEHOLDERS as ACKNOWLEDGEMENT_PLACEHOLDERS
from tickets.routing.acknowledgement import send_acknowledgement, unknown_placeholders
from tickets.routing.assignment import auto_assign, language_code

logger = logging.getLogger(__name__)

TICKET_CREATED = "ticket_created"
CUSTOMER_REPLIED = "customer_replied"
TRIGGERS = (TICKET_CREATED, CUSTOMER_REPLIED)

GENERATION_KEY = "routing:rules:generation"
# How stale another process's copy of the rules may be after a change.
CHECK_EVERY_SECONDS = 1.0


# --- Compiled rules and their per-process cache ------------------------------------------------


def fold(text: str) -> str:
    """Lower case without accents: "Envío" and "ENVIO" match alike."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


@dataclass(frozen=True)
class CompiledRule:
    id: int
    name: str
    store_id: int | None
    triggers: frozenset[str]
    stop: bool
    # conditions
    channels: frozenset[str]
    marketplaces: tuple[str, ...]
    subject_contains: tuple[str, ...]
    text_contains: tuple[str, ...]
    languages: frozenset[str]
    tag_ids: frozenset[int]
    priorities: frozenset[int]
    business_hours: str
    calendar_id: int | None
    # actions
    set_team_id: int | None
    set_priority: int | None
    add_tag_ids: tuple[int, ...]
    set_language: str
    assign: bool
    send_acknowledgement: bool
    acknowledgement_text: str

    @classmethod
    def from_rule(cls, rule: AutomationRule) -> CompiledRule:
        triggers = set()
        if rule.on_ticket_created:
            triggers.add(TICKET_CREATED)
        if rule.on_customer_replied:
            triggers.add(CUSTOMER_REPLIED)
        return cls(
            id=rule.pk,
            name=rule.name,
            store_id=rule.store_id,
            triggers=frozenset(triggers),
            stop=rule.stop_processing,
            channels=frozenset(rule.channels or ()),
            marketplaces=tuple(m.strip().lower() for m in rule.marketplaces or () if m.strip()),
            subject_contains=tuple(fold(p.strip()) for p in rule.subject_contains or () if p.strip()),
            text_contains=tuple(fold(p.strip()) for p in rule.text_contains or () if p.strip()),
            languages=frozenset(language_code(code) for code in rule.languages or () if code.strip()),
            tag_ids=frozenset(tag.pk for tag in rule.tags.all()),
            priorities=frozenset(int(p) for p in rule.priorities or ()),
            business_hours=rule.business_hours,
            calendar_id=rule.calendar_id,
            set_team_id=rule.set_team_id,
            set_priority=rule.set_priority,
            add_tag_ids=tuple(sorted(tag.pk for tag in rule.add_tags.all())),
            set_language=(rule.set_language or "").strip(),
            assign=rule.assign,
            send_acknowledgement=rule.send_acknowledgement,
            acknowledgement_text=rule.acknowledgement_text,
        )


@dataclass
class RuleSet:
    """Every active rule, by store, and the teams that assign automatically."""

    generation: str | None
    rules: tuple[CompiledRule, ...] = ()
    auto_assign_team_ids: frozenset[int] = frozenset()
    checked_at: float = 0.0
    _by_store: dict[int, tuple[CompiledRule, ...]] = field(default_factory=dict)

    def for_ticket(self, ticket: Ticket, trigger: str) -> tuple[CompiledRule, ...]:
        if not self.rules:
            return ()
        store_rules = self._by_store.get(ticket.store_id)
        if store_rules is None:
            store_rules = tuple(rule for rule in self.rules if rule.store_id in (None, ticket.store_id))
            self._by_store[ticket.store_id] = store_rules
        return tuple(rule for rule in store_rules if trigger in rule.triggers)


_current: RuleSet | None = None
_current_lock = threading.Lock()


def _read_generation() -> str | None:
    try:
        return cache.get(GENERATION_KEY)
    except Exception:  # the cache is down: keep working from the database
        logger.warning("routing rules: the shared cache cannot be read", exc_info=True)
        return None


def _load(generation: str | None) -> RuleSet:
    rules = tuple(
        CompiledRule.from_rule(rule)
        for rule in AutomationRule.objects.filter(is_active=True).prefetch_related("tags", "add_tags").order_by(
            "position", "pk"
        )
    )
    teams = frozenset(Team.objects.filter(auto_assign=True).values_list("pk", flat=True))
    return RuleSet(generation=generation, rules=rules, auto_assign_team_ids=teams, checked_at=time.monotonic())


def current_rules() -> RuleSet:
    """This process's compiled rules, reloaded when another process (or this one) changed them."""
    global _current
    ruleset = _current
    now = time.monotonic()
    if ruleset is not None and now - ruleset.checked_at < CHECK_EVERY_SECONDS:
        return ruleset
    with _current_lock:
        generation = _read_generation()
        ruleset = _current
        if ruleset is not None and generation is not None and generation == ruleset.generation:
            ruleset.checked_at = now
            return ruleset
        if generation is None:
            generation = uuid.uuid4().hex
            try:
                cache.add(GENERATION_KEY, generation, timeout=None)
                generation = cache.get(GENERATION_KEY) or generation
            except Exception:
                generation = None  # reload again at the next check
        _current = _load(generation)
        return _current


def forget_rules() -> None:
    """Drop this process's copy (the next message reloads it)."""
    global _current
    _current = None


def rules_changed() -> None:
    """A rule or a team's routing setting changed: this process reloads at once, the others after
    the commit (a reload before it would read the old rows and keep them)."""
    forget_rules()

    def bump() -> None:
        try:
            cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        except Exception:
            logger.warning("routing rules: could not tell other processes about a change", exc_info=True)

    transaction.on_commit(bump)


# --- Validation (the admin form and any other editor) ----------------------------------------


def validate_rule(rule: AutomationRule) -> None:
    """Raise ValidationError naming the field when a rule cannot work as written."""
    errors: dict[str, list[str]] = {}
    if not (rule.on_ticket_created or rule.on_customer_replied):
        errors.setdefault("on_ticket_created", []).append(
            _("Choose when the rule runs: when a ticket is created, when the customer replies, or both.")
        )
    # The tags to add are saved after the rule itself: the admin form hands over what it was
    # given (`pending_add_tags`); otherwise they are read from the saved rule.
    pending_tags = getattr(rule, "pending_add_tags", None)
    if pending_tags is not None:
        adds_tags = bool(pending_tags)
    else:
        adds_tags = rule.pk is None or rule.add_tags.exists()
    has_action = adds_tags or any([
        rule.set_team_id, rule.set_priority, rule.set_language, rule.assign, rule.send_acknowledgement,
    ])
    if not has_action:
        errors.setdefault("set_team", []).append(_("The rule does nothing: choose at least one action."))
    for name in ("marketplaces", "languages"):
        values = [value.strip().lower() for value in getattr(rule, name) or () if value.strip()]
        bad = [value for value in values if " " in value]
        if bad:
            errors.setdefault(name, []).append(
                _("Separate the values with commas: %(values)s") % {"values": ", ".join(bad)}
            )
        setattr(rule, name, values)
    for name in ("subject_contains", "text_contains"):
        setattr(rule, name, [value.strip() for value in getattr(rule, name) or () if value.strip()])
    rule.set_language = (rule.set_language or "").strip().lower()
    if rule.business_hours == AutomationRule.BusinessHours.ANY and rule.calendar_id:
        errors.setdefault("calendar", []).append(
            _("A calendar only matters for a rule that runs inside or outside business hours.")
        )
    if rule.send_acknowledgement:
        if rule.channels and Channel.EMAIL not in rule.channels:
            errors.setdefault("send_acknowledgement", []).append(
                _("Acknowledgements are sent by email only, and this rule never matches email tickets.")
            )
        unknown = unknown_placeholders(rule.acknowledgement_text)
        if unknown:
            errors.setdefault("acknowledgement_text", []).append(
                _("Unknown placeholders: %(unknown)s. Available: %(known)s.") % {
                    "unknown": ", ".join(unknown),
                    "known": ", ".join("{{ " + name + " }}" for name in ACKNOWLEDGEMENT_PLACEHOLDERS),
                }
            )
    elif rule.acknowledgement_text.strip():
        errors.setdefault("acknowledgement_text", []).append(
            _("Tick \"send an acknowledgement\" for this text to be sent, or leave it empty.")
        )
    if errors:
        raise ValidationError(errors)


# --- Matching -----------------------------------------------------------------------------------


class _Context:
    """What the conditions look at, each read at most once per run."""

    def __init__(self, ticket: Ticket, message: Message | None, now) -> None:
        self.ticket = ticket
        self.message = message
        self.now = now
        self._subject: str | None = None
        self._text: str | None = None
        self._tag_ids: set[int] | None = None
        self._inside: dict[int | None, bool] = {}

    @property
    def subject(self) -> str:
        if self._subject is None:
            parts = [self.ticket.subject]
            if self.message is not None and self.message.subject and self.message.subject != self.ticket.subject:
                parts.append(self.message.subject)
            self._subject = fold(" \n".join(parts))
        return self._subject

    @property
    def text(self) -> str:
        if self._text is None:
            body = ""
            if self.message is not None:
                body = self.message.visible_text or self.message.body_text
            self._text = self.subject + " \n" + fold(body)
        return self._text

    def tag_ids(self) -> set[int]:
        if self._tag_ids is None:
            self._tag_ids = set(self.ticket.tags.values_list("pk", flat=True))
        return self._tag_ids

    def inside_business_hours(self, calendar_id: int | None) -> bool:
        if calendar_id not in self._inside:
            self._inside[calendar_id] = _inside_business_hours(self.ticket, calendar_id, self.now)
        return self._inside[calendar_id]


def _inside_business_hours(ticket: Ticket, calendar_id: int | None, now) -> bool:
    """Whether `now` is inside the calendar's business hours: the rule's calendar, else the one of
    the ticket's SLA policy; with neither, every hour is a business hour."""
    try:
        from tickets.sla.calendar import is_open_at
        from tickets.sla.engine import policy_for
    except ImportError:
        return True
    if calendar_id is not None:
        calendar = BusinessCalendar.objects.filter(pk=calendar_id).first()
    else:
        policy = policy_for(ticket)
        calendar = policy.calendar if policy is not None else None
    if calendar is None:
        return True
    return is_open_at(calendar, now)


def matches(rule: CompiledRule, context: _Context) -> bool:
    """All of the rule's conditions hold (cheap ones first; an empty condition holds)."""
    ticket = context.ticket
    if rule.store_id is not None and rule.store_id != ticket.store_id:
        return False
    if rule.channels and ticket.channel not in rule.channels:
        return False
    if rule.priorities and ticket.priority not in rule.priorities:
        return False
    if rule.languages and language_code(ticket.language) not in rule.languages:
        return False
    if rule.marketplaces:
        marketplace = (ticket.marketplace or "").lower()
        if not marketplace or not any(
            marketplace == wanted or marketplace.startswith(wanted + ".") for wanted in rule.marketplaces
        ):
            return False
    if rule.subject_contains and not any(phrase in context.subject for phrase in rule.subject_contains):
        return False
    if rule.text_contains and not any(phrase in context.text for phrase in rule.text_contains):
        return False
    if rule.tag_ids and not (rule.tag_ids & context.tag_ids()):
        return False
    if rule.business_hours != AutomationRule.BusinessHours.ANY:
        inside = context.inside_business_hours(rule.calendar_id)
        if inside != (rule.business_hours == AutomationRule.BusinessHours.INSIDE):
            return False
    return True


# --- Running ------------------------------------------------------------------------------------


@dataclass
class RulesOutcome:
    ticket: Ticket
    applied: list[int] = field(default_factory=list)
    acknowledgement: Message | None = None
    assignment_scheduled: bool = False


def _apply(rule: CompiledRule, ticket: Ticket, context: _Context) -> tuple[Ticket, dict]:
    """Run one rule's actions through the business actions; returns the ticket and what changed."""
    changes: dict = {}
    if rule.set_team_id and ticket.team_id != rule.set_team_id:
        team = Team.objects.filter(pk=rule.set_team_id).first()
        if team is not None:
            changes["team"] = {"from": ticket.team_id, "to": team.pk}
            ticket = actions.set_team(ticket=ticket, team=team)
    if rule.set_priority and ticket.priority != rule.set_priority:
        changes["priority"] = {"from": ticket.priority, "to": rule.set_priority}
        ticket = actions.set_priority(ticket=ticket, priority=rule.set_priority)
    if rule.add_tag_ids:
        current = context.tag_ids()
        missing = [pk for pk in rule.add_tag_ids if pk not in current]
        if missing:
            tags = list(Tag.objects.filter(pk__in=current | set(missing)))
            ticket = actions.set_tags(ticket=ticket, tags=tags)
            context._tag_ids = {tag.pk for tag in tags}
            changes["tags_added"] = sorted(tag.name for tag in tags if tag.pk in missing)
    if rule.set_language and language_code(ticket.language) != language_code(rule.set_language):
        changes["language"] = {"from": ticket.language, "to": rule.set_language}
        Ticket.objects.filter(pk=ticket.pk).update(language=rule.set_language)
        ticket.language = rule.set_language
    return ticket, changes


def run_rules(ticket: Ticket, trigger: str, *, message: Message | None = None) -> RulesOutcome:
    """Run the rules for `trigger` on this ticket, then the automatic assignment.

    Call inside the transaction that stored the customer's message (ingest does, right after
    threading it): the rules' changes commit or roll back with the message. The assignment runs
    after the commit in its own short transaction, so a team's rotation lock is never held for
    the rest of an ingest. Automatic messages never trigger rules.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    outcome = RulesOutcome(ticket=ticket)
    if message is not None and message.is_auto_reply:
        return outcome
    ruleset = current_rules()
    rules = ruleset.for_ticket(ticket, trigger)
    assign = False
    if rules:
        with transaction.atomic(savepoint=False):
            context = _Context(ticket, message, timezone.now())
            acknowledgement_template: str | None = None
            for rule in rules:
                if not matches(rule, context):
                    continue
                try:
                    # A rule that fails (a team deleted meanwhile, a bad value) is undone alone and
                    # logged; the customer's message is threaded whatever a rule does.
                    with transaction.atomic():
                        ticket, changes = _apply(rule, context.ticket, context)
                        TicketEvent.objects.create(
                            ticket=ticket, kind=TicketEvent.Kind.RULE_APPLIED,
                            data={"rule_id": rule.id, "rule": rule.name, "trigger": trigger,
                                  "changes": {**changes, **({"assign": True} if rule.assign else {})}},
                        )
                except Exception:
                    logger.exception("ticket %s: automation rule %s (%s) failed", ticket.pk, rule.id, rule.name)
                    ticket = Ticket.objects.get(pk=ticket.pk)
                    context.ticket, context._tag_ids = ticket, None
                    continue
                context.ticket = ticket
                assign = assign or rule.assign
                if rule.send_acknowledgement and acknowledgement_template is None:
                    acknowledgement_template = rule.acknowledgement_text
                outcome.applied.append(rule.id)
                if rule.stop:
                    break
            if acknowledgement_template is not None:
                try:
                    with transaction.atomic():
                        outcome.acknowledgement = send_acknowledgement(
                            ticket, message, template=acknowledgement_template
                        )
                except Exception:
                    logger.exception("ticket %s: the acknowledgement could not be queued", ticket.pk)
    outcome.ticket = ticket
    # A team that assigns automatically hands out its new tickets, and those whose customer
    # writes again while they wait unassigned (e.g. given back by an agent who went offline).
    wants_assignment = assign or ticket.team_id in ruleset.auto_assign_team_ids
    if wants_assignment and ticket.team_id is not None and ticket.assignee_id is None and ticket.is_open:
        transaction.on_commit(partial(_assign_after_commit, ticket.pk), robust=True)
        outcome.assignment_scheduled = True
    return outcome


def _assign_after_commit(ticket_id: int) -> None:
    try:
        auto_assign(Ticket(pk=ticket_id))
    except Exception:
        # The ticket stays in its team's queue; the beat task hands it out within a minute.
        logger.exception("ticket %s: automatic assignment failed", ticket_id)
