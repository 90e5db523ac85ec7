"""The connection budget (config/connection_budget.py) against the real server's
max_connections, and the start-up hooks of gunicorn and Celery that warn about it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from config.connection_budget import ConnectionBudget, check_connection_budget, configured_budget
from tests.live import celery_worker, gunicorn_server


def admitted() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " - coalesce(current_setting('reserved_connections', true)::int, 0)"
        )
        return int(cursor.fetchone()[0])


def test_a_budget_over_the_servers_limit_is_a_warning_with_the_numbers(db: None) -> None:
    limit = admitted()
    budget = ConnectionBudget(
        web_instances=1, web_workers=limit, web_threads=2, worker_instances=1, worker_concurrency=4
    )

    warning = check_connection_budget(budget)

    assert warning is not None
    assert f"may hold {2 * limit + 5} connections" in warning
    assert f"the server admits {limit}" in warning


def test_a_budget_that_fits_says_nothing(db: None) -> None:
    budget = ConnectionBudget(
        web_instances=1, web_workers=2, web_threads=1, worker_instances=1, worker_concurrency=2
    )

    assert check_connection_budget(budget) is None


def test_an_unreachable_database_never_fails_the_check(db: None, settings: Any) -> None:
    settings.DATABASES = {"default": {**settings.DATABASES["default"], "PORT": "1"}}
    budget = configured_budget(web_workers=10_000)

    warning = check_connection_budget(budget)

    assert warning is None


def test_the_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "WEB_INSTANCES": "3",
        "WEB_WORKERS": "4",
        "WEB_THREADS": "2",
        "CELERY_WORKER_INSTANCES": "2",
        "CELERY_WORKER_CONCURRENCY": "5",
    }.items():
        monkeypatch.setenv(name, value)

    from_env = configured_budget()
    told = configured_budget(web_workers=1, web_threads=1, concurrency=1)

    assert (from_env.web, from_env.workers, from_env.total) == (24, 10, 35)
    assert (told.web, told.workers) == (3, 2)


@pytest.mark.live
@pytest.mark.django_db
def test_gunicorn_warns_at_start_up_when_the_budget_does_not_fit(tmp_path: Path) -> None:
    # The live server runs 2 workers x 4 threads; 100 such machines fit no test server.
    with gunicorn_server(tmp_path, WEB_INSTANCES="100"):
        pass

    log = (tmp_path / "gunicorn.log").read_text()
    assert "PostgreSQL connection budget exceeded" in log
    assert "web 100 x 2 workers x 4 threads = 800" in log


@pytest.mark.live
@pytest.mark.django_db
def test_a_celery_worker_warns_at_start_up_when_the_budget_does_not_fit(tmp_path: Path) -> None:
    with celery_worker(tmp_path, CELERY_WORKER_INSTANCES="1000"):
        pass

    log = (tmp_path / "worker.log").read_text()
    assert "PostgreSQL connection budget exceeded" in log
    assert "Celery 1000 x 2 = 2000" in log
