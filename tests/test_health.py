"""Health endpoints. `/livez`: the process answers (Kubernetes liveness). `/healthz`: this
process can serve SCIM, i.e. the database answers (load balancers, readiness); a broker outage
does not stop SCIM, so it must not take the server out of rotation. `/healthz/detail`: every
component, 503 when one is down (monitoring, people; not load balancers)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings

from tenants import health

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _fresh_detail_answer() -> None:
    # Each test changes the servers behind /healthz/detail; the answer kept per process from
    # an earlier test would hide the change.
    health.forget_detail()


def test_healthz_reports_database_and_broker(db: None, client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_healthz_stays_200_when_only_the_broker_is_down(db: None, client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_REDIS):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "broker": "unreachable"},
    }


def test_scim_writes_work_while_healthz_says_the_broker_is_down(
    acme: Any, scim: Any, client: Client
) -> None:
    # What a load balancer sees and what an identity provider gets, during one broker outage.
    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_REDIS):
        health = client.get("/healthz")
        created = scim.post(
            "/Users",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "broker.down@example.com",
            },
        )

    assert health.status_code == 200
    assert created.status_code == 201


def test_livez_answers_without_touching_the_database(client: Client) -> None:
    # No `db` fixture: pytest-django fails any query made here.
    response = client.get("/livez")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_detail_is_503_naming_the_broker_when_it_is_down(db: None, client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_REDIS):
        response = client.get("/healthz/detail")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "down"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] == "unreachable"
    assert body["checks"]["migrations"] == "ok"
    # No broker: no worker can be asked either.
    assert body["checks"]["workers"] == "unknown"


def test_healthz_detail_is_503_when_a_migration_is_not_applied(db: None, client: Client) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM public.django_migrations WHERE app = 'tokens' "
            "AND name = '0002_oauth_connections'"
        )

    response = client.get("/healthz/detail")

    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "1 unapplied"


def _broker_without_workers() -> str:
    """The test broker's server on another Redis database: broadcasts are per database, and
    the session's Celery worker (if another test started it) listens on the usual one."""
    url = urlsplit(settings.CELERY_BROKER_URL)
    database = int(url.path.strip("/") or 0)
    return urlunsplit(url._replace(path=f"/{(database + 8) % 16}"))


def test_healthz_detail_is_503_when_no_worker_answers(db: None, client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=_broker_without_workers()):
        response = client.get("/healthz/detail")

    assert response.status_code == 503
    assert response.json()["checks"]["workers"] == "no reply"


@pytest.mark.live
def test_healthz_detail_is_200_with_a_worker_running(
    db: None, client: Client, celery_worker_process: object
) -> None:
    response = client.get("/healthz/detail")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "workers": "ok", "migrations": "ok"},
    }


def test_every_response_carries_a_request_id(db: None, client: Client) -> None:
    generated = client.get("/healthz")
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="okta-req-12345678")
    refused = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")

    assert len(generated["X-Request-ID"]) == 32
    assert kept["X-Request-ID"] == "okta-req-12345678"
    assert refused["X-Request-ID"] != "bad id\nwith newline"


def test_healthz_detail_answers_from_its_kept_result_within_the_window(
    db: None, client: Client
) -> None:
    # A monitoring flood costs one set of checks per window, not a worker ping per call.
    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_REDIS, HEALTH_DETAIL_CACHE_SECONDS=60):
        first = client.get("/healthz/detail")
    with override_settings(
        CELERY_BROKER_URL=_broker_without_workers(), HEALTH_DETAIL_CACHE_SECONDS=60
    ):
        kept = client.get("/healthz/detail")
    with override_settings(
        CELERY_BROKER_URL=_broker_without_workers(), HEALTH_DETAIL_CACHE_SECONDS=0
    ):
        fresh = client.get("/healthz/detail")

    assert first.json()["checks"]["broker"] == "unreachable"
    assert kept.json() == first.json()
    assert fresh.json()["checks"]["broker"] == "ok"


def test_healthz_detail_wants_the_token_when_one_is_set(db: None, client: Client) -> None:
    with override_settings(HEALTH_DETAIL_TOKEN="monitoring-secret"):
        missing = client.get("/healthz/detail")
        wrong = client.get("/healthz/detail", HTTP_AUTHORIZATION="Bearer guess")
        right = client.get("/healthz/detail", HTTP_AUTHORIZATION="Bearer monitoring-secret")

    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert "checks" not in wrong.json()
    assert right.status_code in (200, 503)
    assert set(right.json()["checks"]) == {"database", "broker", "workers", "migrations"}
    # The load balancer's probe never needs it.
    with override_settings(HEALTH_DETAIL_TOKEN="monitoring-secret"):
        assert client.get("/healthz").status_code == 200
