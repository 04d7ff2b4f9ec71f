"""Per-process cache of the SLA configuration: active policies (compiled for matching) and
calendar schedules.

Every ticket event needs the policies, so they are read from the database once and kept in
memory. Saving or deleting a policy, calendar, opening period or closed day changes a version
token in the shared cache (Redis) after the commit; each process compares its token with the
shared one at most every `SLA_CONFIG_CHECK_SECONDS` and reloads when it differs. The process
that made the change drops its copy at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache as shared_cache
from django.db import transaction

from tickets.sla.calendar import Schedule, compile_schedule

logger = logging.getLogger(__name__)

VERSION_KEY = "sla:config-version"


@dataclass(frozen=True)
class CompiledPolicy:
    """An SLAPolicy with its conditions as sets, for matching without queries."""

    policy: object  # tickets.models.SLAPolicy
    store_ids: frozenset[int]
    channels: frozenset[str]
    marketplaces: frozenset[str]
    priorities: frozenset[int]
    tag_ids: frozenset[int]
    customer_countries: frozenset[str]
    customer_languages: frozenset[str]
    customer_email_domains: frozenset[str]

    @property
    def needs_customer(self) -> bool:
        return bool(self.customer_countries or self.customer_languages or self.customer_email_domains)


@dataclass
class Snapshot:
    version: str | None
    policies: list[CompiledPolicy]
    policies_by_id: dict[int, object]
    schedules: dict[int, Schedule] = field(default_factory=dict)

    @property
    def uses_tags(self) -> bool:
        return any(p.tag_ids for p in self.policies)

    @property
    def uses_customer(self) -> bool:
        return any(p.needs_customer for p in self.policies)


_lock = threading.Lock()
_snapshot: Snapshot | None = None
_checked_at = 0.0


def _lower_set(values) -> frozenset[str]:
    return frozenset(str(v).strip().lower() for v in (values or []) if str(v).strip())


def _load(version: str | None) -> Snapshot:
    from tickets.models import SLAPolicy

    compiled: list[CompiledPolicy] = []
    by_id: dict[int, object] = {}
    policies = (
        SLAPolicy.objects.filter(is_active=True)
        .select_related("calendar", "escalate_team", "escalate_tag")
        .prefetch_related("stores", "tags", "notify_users")
        .order_by("position", "pk")
    )
    for policy in policies:
        by_id[policy.pk] = policy
        compiled.append(CompiledPolicy(
            policy=policy,
            store_ids=frozenset(s.pk for s in policy.stores.all()),
            channels=_lower_set(policy.channels),
            marketplaces=_lower_set(policy.marketplaces),
            priorities=frozenset(int(p) for p in (policy.priorities or [])),
            tag_ids=frozenset(t.pk for t in policy.tags.all()),
            customer_countries=_lower_set(policy.customer_countries),
            customer_languages=_lower_set(policy.customer_languages),
            customer_email_domains=_lower_set(d.lstrip("@") for d in (policy.customer_email_domains or [])),
        ))
    return Snapshot(version=version, policies=compiled, policies_by_id=by_id)


def _shared_version() -> str | None:
    try:
        version = shared_cache.get(VERSION_KEY)
        if version is None:
            version = uuid.uuid4().hex
            if not shared_cache.add(VERSION_KEY, version, timeout=None):
                version = shared_cache.get(VERSION_KEY)
        return version
    except Exception:  # Redis down: keep working from the database, reload every check
        logger.warning("SLA configuration version unavailable; reloading from the database", exc_info=True)
        return None


def current() -> Snapshot:
    """The SLA configuration for this process, reloaded when another process changed it."""
    global _snapshot, _checked_at
    now = time.monotonic()
    snapshot = _snapshot
    if snapshot is not None and now - _checked_at < getattr(settings, "SLA_CONFIG_CHECK_SECONDS", 5):
        return snapshot
    version = _shared_version()
    with _lock:
        if _snapshot is None or version is None or _snapshot.version != version:
            _snapshot = _load(version)
        _checked_at = now
        return _snapshot


def schedule_of(calendar) -> Schedule:
    """The compiled schedule of a saved calendar, cached with the policies."""
    snapshot = current()
    schedule = snapshot.schedules.get(calendar.pk)
    if schedule is None:
        schedule = compile_schedule(calendar)
        snapshot.schedules[calendar.pk] = schedule
    return schedule


def clear_local() -> None:
    """Forget this process's copy; the next call reloads."""
    global _snapshot, _checked_at
    with _lock:
        _snapshot = None
        _checked_at = 0.0


def _publish_new_version() -> None:
    try:
        shared_cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning("could not publish the new SLA configuration version", exc_info=True)
    clear_local()


def invalidate() -> None:
    """The configuration changed: drop this process's copy now and tell every process after commit."""
    clear_local()
    transaction.on_commit(_publish_new_version)


def connect_signals() -> None:
    """Invalidate on any change to policies, calendars and their parts (called from AppConfig.ready)."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from tickets.models import BusinessCalendar, BusinessHoursPeriod, CalendarClosedDay, SLAPolicy

    def changed(**kwargs) -> None:
        invalidate()

    for model in (SLAPolicy, BusinessCalendar, BusinessHoursPeriod, CalendarClosedDay):
        post_save.connect(changed, sender=model, weak=False, dispatch_uid=f"sla-cache-save-{model.__name__}")
        post_delete.connect(changed, sender=model, weak=False, dispatch_uid=f"sla-cache-delete-{model.__name__}")
    for relation in (SLAPolicy.stores.through, SLAPolicy.tags.through, SLAPolicy.notify_users.through):
        m2m_changed.connect(changed, sender=relation, weak=False, dispatch_uid=f"sla-cache-m2m-{relation.__name__}")
