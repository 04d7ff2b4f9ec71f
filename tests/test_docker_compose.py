"""docker-compose.yml cannot be started here (no Docker engine), so it is kept correct by reading:
the production shape is complete, healthy-checked, and speaks the same variables as the settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_production_shape_has_every_service_with_a_health_check():
    assert {"web", "worker", "beat", "postgres", "redis"} <= set(SERVICES)
    for name in ("web", "worker", "beat", "postgres", "redis"):
        assert SERVICES[name]["healthcheck"]["test"], name


def test_app_services_wait_for_migrations_and_healthy_stores():
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"


def test_data_lives_in_volumes():
    assert "postgres:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    assert "redis:/data" in SERVICES["redis"]["volumes"]
    assert {"postgres", "redis", "media", "beat"} <= set(COMPOSE["volumes"])


def test_every_app_variable_is_read_by_the_settings():
    settings_source = (BASE_DIR / "helpdesk" / "settings.py").read_text()
    read = set(re.findall(r'env(?:str|bool|int|list|secret)\("([A-Z0-9_]+)"', settings_source))
    for name in SERVICES["web"]["environment"]:
        assert name in read, f"{name} is set by docker-compose but never read by helpdesk/settings.py"


@pytest.mark.parametrize("name", ["web", "worker", "beat", "migrate"])
def test_app_services_build_the_image_from_the_project(name):
    build = SERVICES[name]["build"]
    assert (BASE_DIR / build["context"] / build["dockerfile"]).is_file()


def test_commands_name_modules_that_exist():
    dockerfile = (BASE_DIR / SERVICES["web"]["build"]["dockerfile"]).read_text()
    assert '"helpdesk.asgi:application"' in dockerfile
    assert (BASE_DIR / "helpdesk" / "asgi.py").is_file()
    assert SERVICES["worker"]["command"][:4] == ["celery", "-A", "helpdesk", "worker"]
    queues = SERVICES["worker"]["command"][SERVICES["worker"]["command"].index("--queues") + 1].split(",")
    from django.conf import settings

    assert sorted(queues) == sorted(settings.CELERY_TASK_QUEUES_NAMES)
