"""Keeps each process's compiled automation rules current: any change to a rule, its tags or a
team's routing settings makes every process reload them (see `tickets.routing.rules`). Cache
invalidation only; no business flow runs from here."""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save

from tickets.models import AutomationRule, Team


def _changed(sender, **kwargs) -> None:
    from tickets.routing.rules import rules_changed

    rules_changed()


def connect() -> None:
    for model in (AutomationRule, Team):
        post_save.connect(_changed, sender=model, dispatch_uid=f"routing-rules-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"routing-rules-delete-{model.__name__}")
    for through in (AutomationRule.tags.through, AutomationRule.add_tags.through):
        m2m_changed.connect(_changed, sender=through, dispatch_uid=f"routing-rules-m2m-{through.__name__}")
