"""`manage.py check --deploy` is clean with production settings, and production refuses to start
without a secret key."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _production_env(**overrides: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "help.example.com",
        }
    )
    env.update(overrides)
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_defaults():
    done = _manage("check", "--deploy", "--fail-level", "DEBUG", env=_production_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_check_deploy_flags_debug_on():
    done = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env(DJANGO_DEBUG="1"))
    assert done.returncode != 0
    assert "security.W018" in done.stdout + done.stderr


def test_production_without_secret_key_refuses_to_start():
    env = _production_env()
    del env["DJANGO_SECRET_KEY"]
    done = _manage("check", env=env)
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set" in done.stderr


def test_secret_key_can_come_from_a_file(tmp_path):
    key_file = tmp_path / "secret"
    key_file.write_text(secrets.token_urlsafe(50) + "\n")
    env = _production_env()
    del env["DJANGO_SECRET_KEY"]
    env["DJANGO_SECRET_KEY_FILE"] = str(key_file)
    done = _manage("check", "--deploy", "--fail-level", "DEBUG", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
