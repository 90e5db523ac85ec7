"""PostgreSQL goes away mid-run: the API answers 503 SCIM errors, the portal a readable 503
page, and when the database is back the server recovers by itself (no stale connections).

The server reaches PostgreSQL through a TCP relay that the test cuts: every open connection
is dropped and new ones are refused, which is what a database restart or failover looks like
from the application. The server keeps its connections between requests (DB_CONN_MAX_AGE), as
in production, so stale connections would show.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from devstack.relay import Relay
from tests import live as live_servers
from tests.live import gunicorn_server, live_scim_company

pytestmark = [pytest.mark.live, pytest.mark.django_db]


def call(base: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any, dict]:
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=20)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    try:
        connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    except TimeoutError:
        raise AssertionError(f"{method} {path} got no answer in 20 s") from None
    connection.close()
    content_type = response.getheader("Content-Type") or ""
    parsed = json.loads(raw) if "json" in content_type and raw else raw.decode()
    return response.status, parsed, dict(response.getheaders())


def test_a_database_outage_is_a_503_and_the_server_recovers_by_itself(
    django_db_blocker: Any, tmp_path: Path
) -> None:
    database = urlsplit(live_servers.test_database_url())
    relay = Relay((database.hostname or "127.0.0.1", database.port or 5432))
    through_relay = urlunsplit(database._replace(netloc=f"postgres@127.0.0.1:{relay.port}"))
    try:
        with (
            live_scim_company(django_db_blocker) as live,
            gunicorn_server(tmp_path, DATABASE_URL=through_relay, DB_CONN_MAX_AGE="600") as base,
        ):
            users = f"/t/{live.company.slug}/scim/v2/Users"
            okta_user = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "during.outage@example.com",
                "active": True,
            }
            # Warm up: every worker holds an open database connection.
            warm = [call(base, "GET", users, live.bearer)[0] for _ in range(8)]

            relay.cut()
            read = call(base, "GET", users, live.bearer)
            write = call(base, "POST", users, live.bearer, okta_user)
            portal = call(base, "GET", f"/t/{live.company.slug}/login/", "")
            health = call(base, "GET", "/healthz", "")

            relay.restore()
            deadline = time.monotonic() + 15
            first_success = None
            while time.monotonic() < deadline and first_success is None:
                if call(base, "GET", users, live.bearer)[0] == 200:
                    first_success = time.monotonic()
                else:
                    time.sleep(0.2)
            after = [call(base, "GET", users, live.bearer)[0] for _ in range(12)]
            created = call(base, "POST", users, live.bearer, okta_user)
    finally:
        relay.close()

    assert warm == [200] * 8
    for status, body, headers in (read, write):
        assert status == 503
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert body["status"] == "503"
        assert headers["Retry-After"] == "5"
    assert portal[0] == 503 and "Headcount is briefly unavailable" in portal[1]
    assert health[0] == 503
    # Back by itself, on every worker, and the write refused during the outage was not kept.
    assert first_success is not None
    assert after == [200] * 12
    assert created[0] == 201


def test_only_database_errors_worth_a_retry_are_503s() -> None:
    import psycopg

    from infra.db_errors import database_unavailable
    from tests.database_errors import raised_by_django

    retry = [
        psycopg.OperationalError("connection refused"),  # no SQLSTATE: never reached
        psycopg.errors.AdminShutdown(),
        psycopg.errors.ConnectionFailure(),
        psycopg.errors.DeadlockDetected(),
        psycopg.errors.SerializationFailure(),
        psycopg.errors.TooManyConnections(),
        psycopg.errors.OutOfMemory(),
    ]
    bugs = [psycopg.errors.DiskFull(), psycopg.errors.QueryCanceled()]

    assert all(database_unavailable(raised_by_django(cause)) for cause in retry)
    assert not any(database_unavailable(raised_by_django(cause)) for cause in bugs)


def _terminate_backends(application_name: str) -> int:
    """End every PostgreSQL backend of the server's connections (as a restart, a failover or
    an administrator would), wait until they are gone, and say how many there were."""
    import psycopg

    with psycopg.connect(live_servers.test_database_url(), autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [application_name],
        ).fetchone()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [application_name],
            ).fetchone()
            if left == (0,):
                break
            time.sleep(0.05)
    return int(ended[0]) if ended else 0


def _after_a_backend_is_ended(
    django_db_blocker: Any, tmp_path: Path, *, settle: bool = False, **settings_env: str
) -> tuple[list[int], int, list[int]]:
    """Statuses of SCIM reads before and after the server's kept database connections are
    ended between two requests, and how many were ended. After: eight reads, or with
    `settle` reads until eight in a row answered 200 (at most a hundred): which of the
    server's threads, each with its own connection, serves a read is up to gunicorn."""
    name = f"hc-kept-{time.monotonic_ns()}"
    database = live_servers.test_database_url() + f"?application_name={name}"
    with (
        live_scim_company(django_db_blocker) as live,
        gunicorn_server(
            tmp_path, DATABASE_URL=database, DB_CONN_MAX_AGE="600", **settings_env
        ) as base,
    ):
        users = f"/t/{live.company.slug}/scim/v2/Users?count=1"
        before = [call(base, "GET", users, live.bearer)[0] for _ in range(8)]
        ended = _terminate_backends(name)
        after = [call(base, "GET", users, live.bearer)[0] for _ in range(8)]
        while settle and after[-8:] != [200] * 8 and len(after) < 100:
            after.append(call(base, "GET", users, live.bearer)[0])
    return before, ended, after


def test_a_kept_connection_ended_between_two_requests_costs_no_failed_request(
    django_db_blocker: Any, tmp_path: Path
) -> None:
    # No `SELECT 1` before each request (CONN_HEALTH_CHECKS' round trip): the route read,
    # the request's first statement, finds the dead connection and runs again on a new one.
    before, ended, after = _after_a_backend_is_ended(django_db_blocker, tmp_path)

    assert before == [200] * 8
    assert ended >= 1
    assert after == [200] * 8


def test_without_any_check_an_ended_connection_fails_a_request(
    django_db_blocker: Any, tmp_path: Path
) -> None:
    # What the check above prevents: with no check at all, the first request on each ended
    # connection fails (a 503; Django then drops that connection, and that thread's next
    # request gets a new one).
    before, ended, after = _after_a_backend_is_ended(
        django_db_blocker, tmp_path, settle=True, DB_HEALTH_CHECKS="0"
    )

    assert before == [200] * 8
    assert ended >= 1
    assert set(after) == {200, 503}
    assert after.count(503) <= ended
    assert after[-8:] == [200] * 8
