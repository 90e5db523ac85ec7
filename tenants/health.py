"""`/healthz` for load balancers: is the database reachable, is the broker reachable."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.warning("healthz: database unreachable", exc_info=True)
        return False


def _broker_ok() -> bool:
    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
        )
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        logger.warning("healthz: broker unreachable", exc_info=True)
        return False


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every dependency answers, 503 (with the same body) when one does not."""
    checks = {
        "database": "ok" if _database_ok() else "unreachable",
        "broker": "ok" if _broker_ok() else "unreachable",
    }
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status=200 if healthy else 503,
    )
