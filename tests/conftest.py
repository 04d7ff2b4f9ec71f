"""Shared fixtures: named personas for permission tests, and the live servers' plumbing.

The suite runs against the real PostgreSQL and Redis that `make test` starts (or those named by
DATABASE_URL and REDIS_URL).
"""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD, UserFactory


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def alice(db):
    """An agent."""
    return UserFactory(username="alice", role="agent")


@pytest.fixture
def bob(db):
    """A manager."""
    return UserFactory(username="bob", role="manager")


@pytest.fixture
def charlie(db):
    """An administrator."""
    return UserFactory(username="charlie", role="admin")


@pytest.fixture
def mallory(db):
    """Signed in, but not a helpdesk user: no agent profile."""
    return UserFactory(username="mallory")


@pytest.fixture(autouse=True)
def _static_files_without_manifest(settings) -> None:
    """Production settings use servestatic's manifest storage, whose `{% static %}` fails until
    collectstatic has written a manifest; tests render pages without running collectstatic."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _webhooks_on_the_test_thread(settings) -> None:
    """In-process tests keep their data in the test thread's transaction, which a webhook stored
    from the shared thread pool could not see. Tests against a real server use the pool."""
    settings.HELPDESK_WEBHOOK_SHARED_THREADS = False


@pytest.fixture(autouse=True)
def _fresh_account_cache() -> None:
    """The webhook's per-process account cache must not carry accounts between tests."""
    from channels_ingest import actions, views

    views._accounts.clear()
    actions._last_activity_written.clear()


@pytest.fixture(autouse=True)
def _fresh_routing_rules() -> None:
    """Automation rules are compiled once per process; a rolled-back test's rules must not linger
    into the next test."""
    from tickets.routing.rules import forget_rules

    forget_rules()


@pytest.fixture(autouse=True)
def _fresh_sla_configuration() -> None:
    """SLA policies and calendars are cached per process; a rolled-back test's policies must not
    linger into the next test."""
    from tickets.sla.cache import clear_local

    clear_local()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request handled in Spanish leaves Spanish
    active on the thread, which would otherwise carry over into the next test's messages."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()
