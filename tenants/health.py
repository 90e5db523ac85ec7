"""Health endpoints, one question each (docs/operations.md says which probe uses which).

- `/livez`: the process answers. No database, no broker: a liveness probe that restarts the
  process must not fire because PostgreSQL is away (a restart would not bring it back).
- `/healthz`: this process can serve SCIM, i.e. the database answers. For load balancers and
  readiness probes. The broker is reported but never fails it: nothing in a SCIM request
  needs Redis, so a Redis outage must not take every web server out of rotation.
- `/healthz/detail`: every component (database, broker, Celery workers, migrations), 503 when
  one is down. For monitoring and people, not load balancers: a worker outage is worth an
  alert, not a full outage. Its answer is kept per process for `HEALTH_DETAIL_CACHE_SECONDS`
  (a worker ping waits up to a second; a flood of calls must not become a flood of pings),
  and when `HEALTH_DETAIL_TOKEN` is set it answers only `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from functools import cache

import redis
from celery import current_app
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)

# Paths that skip company routing (tenants/middleware.py): routing reads the database, and
# these must answer, with a 503 if need be, when it is down.
HEALTH_PATHS = frozenset({"/livez", "/healthz", "/healthz/detail"})
# How long /healthz/detail waits for a Celery worker to answer a ping.
WORKER_PING_SECONDS = 1.0


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.warning("health: database unreachable", exc_info=True)
        return False


@cache
def _broker_client(url: str) -> redis.Redis:
    """One client (and connection pool) per broker URL per process: a load balancer polls
    /healthz every few seconds, and a new TCP connection per poll is waste."""
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def _broker_ok() -> bool:
    try:
        return bool(_broker_client(settings.CELERY_BROKER_URL).ping())
    except Exception:
        logger.warning("health: broker unreachable", exc_info=True)
        return False


def _workers_state() -> str:
    """ "ok" when a Celery worker answers a ping on the broker within WORKER_PING_SECONDS."""
    try:
        with current_app.connection_for_write(settings.CELERY_BROKER_URL) as broker:
            # limit=1: return as soon as one worker answers instead of waiting the timeout.
            replies = current_app.control.ping(
                timeout=WORKER_PING_SECONDS, limit=1, connection=broker
            )
    except Exception:
        logger.warning("health: could not ping Celery workers", exc_info=True)
        return "unknown"
    return "ok" if replies else "no reply"


def _migrations_state() -> str:
    """ "ok" when every migration on disk is applied to `public`. Company schemas are migrated
    by the same `migrate_schemas` run, right after it."""
    try:
        loader = MigrationExecutor(connection).loader
        # Every node, not a plan towards the leaves: Django plans nothing for an applied leaf,
        # so a migration missing below one (applied out of order) would go unnoticed.
        unapplied = [node for node in loader.graph.nodes if node not in loader.applied_migrations]
    except Exception:
        logger.warning("health: could not read the migration state", exc_info=True)
        return "unknown"
    return f"{len(unapplied)} unapplied" if unapplied else "ok"


@never_cache
def livez(request: HttpRequest) -> JsonResponse:
    """200 whenever the process can answer at all."""
    return JsonResponse({"status": "ok"})


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, "degraded" in the body if the broker does not; 503 when
    the database does not."""
    database = _database_ok()
    checks = {
        "database": "ok" if database else "unreachable",
        "broker": "ok" if _broker_ok() else "unreachable",
    }
    status = "ok" if all(state == "ok" for state in checks.values()) else "degraded"
    if not database:
        status = "down"
    return JsonResponse({"status": status, "checks": checks}, status=200 if database else 503)


_detail_lock = threading.Lock()
_detail_answer: tuple[float, dict[str, object], int] | None = None


def forget_detail() -> None:
    """Drop the kept /healthz/detail answer (tests change the servers between calls)."""
    global _detail_answer
    _detail_answer = None


def _detail_allowed(request: HttpRequest) -> bool:
    token = settings.HEALTH_DETAIL_TOKEN
    if not token:
        return True
    presented = request.headers.get("Authorization", "")
    return secrets.compare_digest(presented.encode(), f"Bearer {token}".encode())


@never_cache
def healthz_detail(request: HttpRequest) -> JsonResponse:
    """Every component's state; 503 when any is not "ok". 401 without the token when one is set."""
    global _detail_answer
    if not _detail_allowed(request):
        return JsonResponse(
            {
                "status": "unauthorized",
                "detail": "Send Authorization: Bearer <HEALTH_DETAIL_TOKEN>.",
            },
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="health"'},
        )
    # One check at a time per process; callers arriving meanwhile get its answer.
    with _detail_lock:
        now = time.monotonic()
        if (
            _detail_answer is None
            or now - _detail_answer[0] >= settings.HEALTH_DETAIL_CACHE_SECONDS
        ):
            body, status = _detail_checks()
            _detail_answer = (now, body, status)
        _, body, status = _detail_answer
    return JsonResponse(body, status=status)


def _detail_checks() -> tuple[dict[str, object], int]:
    database = _database_ok()
    broker = _broker_ok()
    checks = {
        "database": "ok" if database else "unreachable",
        "broker": "ok" if broker else "unreachable",
        # Without a broker no worker can be asked, and without a database no migration read.
        "workers": _workers_state() if broker else "unknown",
        "migrations": _migrations_state() if database else "unknown",
    }
    healthy = all(state == "ok" for state in checks.values())
    return {"status": "ok" if healthy else "down", "checks": checks}, 200 if healthy else 503
