"""A web request's statement runs at most DB_STATEMENT_TIMEOUT_SECONDS (by default a little
under gunicorn's worker timeout): past it PostgreSQL stops the statement, the caller gets a
503 that names the limit, nothing is written, and the worker serves on, rather than gunicorn
killing the worker while its statement keeps the database busy. Other processes (Celery,
commands, migrations) have no such limit."""

from __future__ import annotations

import runpy
import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.test import RequestFactory
from django_tenants.utils import schema_context

from config.errors import server_error
from directory.diagnosis import diagnose_failure
from directory.models import Member, ProvisioningEvent, RequestTally
from infra.db_errors import statement_timed_out
from tests.live import ROOT, IdP, gunicorn_server, in_thread, live_scim_company
from vendor_api.errors import vendor_exception_handler

pytestmark = pytest.mark.django_db


def _gunicorn_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("WEB_TIMEOUT", "WEB_STATEMENT_TIMEOUT_SECONDS", "DB_STATEMENT_TIMEOUT_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "gunicorn.py"))


def test_the_web_server_stops_statements_before_it_would_kill_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _gunicorn_settings(monkeypatch)["raw_env"] == ["DB_STATEMENT_TIMEOUT_SECONDS=25"]
    assert _gunicorn_settings(monkeypatch, WEB_TIMEOUT="60")["raw_env"] == [
        "DB_STATEMENT_TIMEOUT_SECONDS=55"
    ]
    chosen = _gunicorn_settings(monkeypatch, WEB_STATEMENT_TIMEOUT_SECONDS="7.5")
    assert chosen["raw_env"] == ["DB_STATEMENT_TIMEOUT_SECONDS=7.5"]
    # The deployment's shared environment (docker-compose gives web, worker, beat and migrate
    # one) cannot set it for every process: the web server sets its own.
    shared = _gunicorn_settings(monkeypatch, DB_STATEMENT_TIMEOUT_SECONDS="3")
    assert shared["raw_env"] == ["DB_STATEMENT_TIMEOUT_SECONDS=25"]


def test_a_connection_has_the_processs_timeout_and_none_by_default(settings: Any) -> None:
    def timeout_of_a_new_connection() -> str:
        fresh = connections.create_connection("default")
        try:
            with fresh.cursor() as cursor:
                cursor.execute("SHOW statement_timeout")
                (value,) = cursor.fetchone()
                if value != "0":
                    with pytest.raises(OperationalError) as stopped:
                        cursor.execute("SELECT pg_sleep(5)")
                    assert statement_timed_out(stopped.value)
                return str(value)
        finally:
            fresh.close()

    assert timeout_of_a_new_connection() == "0"  # Celery, commands, migrations
    settings.DB_STATEMENT_TIMEOUT_SECONDS = 0.25
    assert timeout_of_a_new_connection() == "250ms"


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/t/acme/members/", "This page took too long"),
        ("/t/acme/scim/v2/Users", "took longer than this server allows (25 s)"),
    ],
)
def test_a_statement_stopped_outside_a_view_is_a_503_that_says_so(
    settings: Any, path: str, says: str
) -> None:
    # Routing and the portal's middleware read the database before any view: the last-resort
    # handler answers for them.
    settings.DB_STATEMENT_TIMEOUT_SECONDS = 25
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 50")
            cursor.execute("SELECT pg_sleep(5)")
    except OperationalError:
        response = server_error(RequestFactory().get(path))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert says in response.content.decode()


def test_a_bug_is_a_500_without_a_retry_after() -> None:
    # A retry would meet the same bug: the 503s only say when to come back.
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(RequestFactory().get("/t/acme/scim/v2/Users"))

    assert response.status_code == 500
    assert not response.has_header("Retry-After")


@pytest.mark.live
def test_a_write_waiting_past_the_timeout_is_a_503_and_the_server_serves_on(
    django_db_blocker: Any, tmp_path: Path
) -> None:
    # A lock held longer than the limit: the statement waits on it, as one a costly sort or
    # filter runs, and PostgreSQL stops it at the limit.
    with (
        live_scim_company(django_db_blocker) as live,
        gunicorn_server(tmp_path, WEB_STATEMENT_TIMEOUT_SECONDS="2") as server,
    ):
        idp = IdP.bearer(server, live)
        created = idp.call("POST", "/Users", {"userName": "ada@example.com", "active": True})
        assert created.status == 201, created.body
        user = created.body["id"]
        locked, release = threading.Event(), threading.Event()

        def hold_the_row() -> None:
            with (
                django_db_blocker.unblock(),
                schema_context(live.company.schema_name),
                transaction.atomic(),
            ):
                list(Member.objects.select_for_update().filter(pk=user))
                locked.set()
                release.wait(30)
            connection.close()

        holder = threading.Thread(target=hold_the_row)
        holder.start()
        try:
            assert locked.wait(30)
            stopped = idp.call(
                "PATCH",
                f"/Users/{user}",
                {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": False}],
                },
            )
        finally:
            release.set()
            holder.join()
        after = idp.call("GET", f"/Users/{user}")

        def tallied() -> list[RequestTally]:
            with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                try:
                    return list(RequestTally.objects.filter(status=503))
                finally:
                    connection.close()

        rows = in_thread(tallied)

        def logged() -> list[ProvisioningEvent]:
            with django_db_blocker.unblock(), schema_context(live.company.schema_name):
                try:
                    return list(ProvisioningEvent.objects.filter(operation="patch"))
                finally:
                    connection.close()

        ledger = in_thread(logged)

    assert stopped.status == 503, stopped.body
    assert stopped.body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert "took longer than this server allows (2 s)" in stopped.body["detail"]
    assert stopped.headers["Retry-After"] == "5"
    # Nothing was written, the server answers on, and gunicorn killed no worker.
    assert after.status == 200 and after.body["active"] is True
    assert "WORKER TIMEOUT" not in (tmp_path / "gunicorn.log").read_text()
    # The company's log says what happened, in its own words.
    (row,) = rows
    assert row.error_code == "timed_out"
    diagnosis = diagnose_failure(
        status=row.status,
        scim_type="",
        detail=row.detail,
        resource_type="User",
        code=row.error_code,
    )
    assert diagnosis.title == "Request took too long"
    # And in the provisioning log, with its request, like any refused write.
    (entry,) = ledger
    assert (entry.outcome, entry.status) == ("failed", 503)
    assert "took longer than this server allows (2 s)" in entry.detail


def _stopped_statement() -> OperationalError:
    """A real cancel by PostgreSQL's statement timeout, inside a savepoint (the test's
    transaction goes on)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 50")
            cursor.execute("SELECT pg_sleep(5)")
    except OperationalError as error:
        return error
    raise AssertionError("the statement was not stopped")


def test_the_vendor_api_answers_a_stopped_statement_with_a_503_that_says_so(
    settings: Any,
) -> None:
    settings.DB_STATEMENT_TIMEOUT_SECONDS = 25

    response = vendor_exception_handler(_stopped_statement(), {})

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.data["error"]["code"] == "timed_out"
    assert "(25 s)" in response.data["error"]["message"]


def test_a_cancel_not_from_the_timeout_is_not_called_one(settings: Any) -> None:
    # Without a limit set (workers, commands), a cancel came from an operator: no "0 s" limit.
    settings.DB_STATEMENT_TIMEOUT_SECONDS = 0

    assert not statement_timed_out(_stopped_statement())
