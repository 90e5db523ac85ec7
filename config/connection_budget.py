"""The PostgreSQL connection budget: how many connections our processes may hold at once,
checked against the server's `max_connections` when a web server or Celery worker starts.

Every web thread and every worker process keeps its own persistent connection
(`DB_CONN_MAX_AGE`), so the budget is the sum of those (docs/operations.md). Past the
server's limit, PostgreSQL refuses new connections ("too many clients"): requests get 503s
under load although nothing is broken. The check only warns, and never stops a start-up:
the database may well be unreachable at that moment.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings

logger = logging.getLogger(__name__)

# A start-up must not wait long for a database that is not there.
CONNECT_TIMEOUT_SECONDS = 3


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


@dataclass(frozen=True)
class ConnectionBudget:
    """Connections the deployment may hold: web instances times workers times threads,
    Celery worker instances times concurrency, and one for beat. Counts of machines
    (instances) come from the environment, since no single process can see them."""

    web_instances: int
    web_workers: int
    web_threads: int
    worker_instances: int
    worker_concurrency: int
    beat: int = 1

    @property
    def web(self) -> int:
        return self.web_instances * self.web_workers * self.web_threads

    @property
    def workers(self) -> int:
        return self.worker_instances * self.worker_concurrency

    @property
    def total(self) -> int:
        return self.web + self.workers + self.beat

    def describe(self) -> str:
        return (
            f"web {self.web_instances} x {self.web_workers} workers x {self.web_threads} "
            f"threads = {self.web}, Celery {self.worker_instances} x {self.worker_concurrency} "
            f"= {self.workers}, beat {self.beat}"
        )


def configured_budget(
    *,
    web_workers: int | None = None,
    web_threads: int | None = None,
    concurrency: int | None = None,
) -> ConnectionBudget:
    """The budget from the environment (WEB_INSTANCES, WEB_WORKERS, WEB_THREADS,
    CELERY_WORKER_INSTANCES, CELERY_WORKER_CONCURRENCY); a process passes what it knows
    first-hand (its own workers, threads or concurrency) instead."""
    return ConnectionBudget(
        web_instances=_env_int("WEB_INSTANCES", 1),
        web_workers=web_workers or _env_int("WEB_WORKERS", 2),
        web_threads=web_threads or _env_int("WEB_THREADS", 1),
        worker_instances=_env_int("CELERY_WORKER_INSTANCES", 1),
        # Celery's own default concurrency is the number of CPUs.
        worker_concurrency=concurrency
        or _env_int("CELERY_WORKER_CONCURRENCY", os.cpu_count() or 1),
    )


def server_connection_limit() -> int | None:
    """Connections the server admits for us: `max_connections` less the slots reserved for
    superusers (and `reserved_connections`, PostgreSQL 16+). None when it cannot be asked."""
    database: dict[str, Any] = settings.DATABASES["default"]
    # TLS options are libpq's; the others in OPTIONS are Django's and would be refused.
    tls = {k: v for k, v in database.get("OPTIONS", {}).items() if k.startswith("ssl")}
    try:
        with psycopg.connect(
            dbname=database["NAME"],
            user=database.get("USER") or None,
            password=database.get("PASSWORD") or None,
            host=database.get("HOST") or None,
            port=database.get("PORT") or None,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            **tls,
        ) as connection:
            row = connection.execute(
                "SELECT current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int"
                " - coalesce(current_setting('reserved_connections', true)::int, 0)"
            ).fetchone()
    except psycopg.Error as error:
        logger.info("Connection budget not checked: the database did not answer (%s)", error)
        return None
    return int(row[0]) if row else None


def check_connection_budget(budget: ConnectionBudget) -> str | None:
    """Compare `budget` with the server's limit: a warning for the caller to log when it does
    not fit, None when it fits or the server cannot be asked. Never raises."""
    try:
        limit = server_connection_limit()
    except Exception:  # a start-up hook must not fail the start-up
        logger.exception("Connection budget not checked")
        return None
    if limit is None or budget.total <= limit:
        return None
    return (
        f"PostgreSQL connection budget exceeded: our processes may hold {budget.total} "
        f"connections ({budget.describe()}) but the server admits {limit} "
        "(max_connections less reserved ones). Under load, requests will get 503s "
        "'too many clients'. Raise max_connections, lower WEB_WORKERS / WEB_THREADS / "
        "CELERY_WORKER_CONCURRENCY, or put pgbouncer in front (docs/operations.md)."
    )
