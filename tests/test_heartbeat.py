"""The heartbeat that beat schedules, and the command containers use to judge beat's health."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from helpdesk.tasks import HEARTBEAT_CACHE_KEY, record_heartbeat


@pytest.fixture(autouse=True)
def _no_heartbeat():
    cache.delete(HEARTBEAT_CACHE_KEY)
    yield
    cache.delete(HEARTBEAT_CACHE_KEY)


def test_fresh_heartbeat_is_healthy(capsys):
    record_heartbeat()
    call_command("check_heartbeat", "--max-age", "60")
    assert capsys.readouterr().out.startswith("heartbeat 0 s ago")


def test_missing_heartbeat_is_unhealthy():
    with pytest.raises(CommandError, match="no heartbeat recorded yet"):
        call_command("check_heartbeat")


def test_stale_heartbeat_is_unhealthy():
    cache.set(HEARTBEAT_CACHE_KEY, (timezone.now() - timedelta(minutes=10)).isoformat())
    with pytest.raises(CommandError, match=r"last heartbeat 60\d s ago \(limit 180 s\)"):
        call_command("check_heartbeat", "--max-age", "180")
