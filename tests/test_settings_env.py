"""The environment readers fail loudly on values they cannot understand."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from helpdesk.env import envbool, envint, envlist, envsecret


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("On", True), ("0", False), ("false", False), ("", False)])
def test_envbool_reads_common_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert envbool("FLAG", not expected) is expected


def test_envbool_rejects_a_typo(monkeypatch):
    monkeypatch.setenv("FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="FLAG must be a boolean"):
        envbool("FLAG", False)


def test_envint_rejects_words(monkeypatch):
    monkeypatch.setenv("COUNT", "ten")
    with pytest.raises(ImproperlyConfigured, match="COUNT must be a whole number"):
        envint("COUNT", 1)


def test_envlist_splits_and_trims(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example.com, b.example.com ,,")
    assert envlist("HOSTS", []) == ["a.example.com", "b.example.com"]


def test_envsecret_unreadable_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="TOKEN_FILE points at"):
        envsecret("TOKEN", default="x")


@pytest.mark.parametrize(
    ("redis_url", "broker_url"),
    [
        ("unix:///run/redis.sock?db=3", "redis+socket:///run/redis.sock?virtual_host=3"),
        ("unix:///run/redis.sock", "redis+socket:///run/redis.sock"),
        ("redis://cache:6379/2", "redis://cache:6379/2"),
    ],
)
def test_broker_url_keeps_the_redis_database(redis_url, broker_url):
    from helpdesk.settings import _kombu_url

    assert _kombu_url(redis_url) == broker_url
