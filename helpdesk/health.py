"""/healthz: is this process able to reach its database and its Redis?

Load balancers and docker-compose call it; it answers 200 when both answer and 503 otherwise,
with a small JSON body saying which part failed.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "unreachable" to a load balancer
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def check_redis() -> str | None:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return None


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    problems = {"database": check_database(), "redis": check_redis()}
    body = {name: ("ok" if error is None else "error") for name, error in problems.items()}
    errors = {name: error for name, error in problems.items() if error}
    if settings.DEBUG and errors:
        # Driver messages can name hosts and users: only a development instance shows them.
        body["errors"] = errors
    status = 200 if all(error is None for error in problems.values()) else 503
    return JsonResponse(body, status=status)
