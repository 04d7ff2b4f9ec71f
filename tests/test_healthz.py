"""/healthz answers 200 when PostgreSQL and Redis answer, 503 naming the part that does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_both_reachable_answers_200(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_redis_unreachable_answers_503(client, settings, tmp_path):
    settings.REDIS_URL = f"unix://{tmp_path}/no-redis-here.sock"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "error"}


def test_database_unreachable_answers_503(tmp_path):
    """A separate process whose DATABASE_URL points at a server that is not there."""
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://postgres@{str(tmp_path).replace('/', '%2F')}/helpdesk",
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "DJANGO_ALLOWED_HOSTS": "testserver",
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": 503, "body": {"database": "error", "redis": "ok"}}


@pytest.mark.django_db
def test_post_is_refused(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_errors_are_detailed_only_in_debug(client, settings, tmp_path):
    settings.REDIS_URL = f"unix://{tmp_path}/no-redis-here.sock"
    settings.DEBUG = False
    assert "errors" not in client.get("/healthz").json()
    settings.DEBUG = True
    body = client.get("/healthz").json()
    assert body["redis"] == "error"
    assert "No such file or directory" in body["errors"]["redis"]
