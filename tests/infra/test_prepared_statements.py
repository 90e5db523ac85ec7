"""The statements every SCIM request repeats are prepared on the connection
(DB_PREPARED_STATEMENTS, tenants/postgresql_backend): PostgreSQL stops parsing and planning
them, and a prepared statement still reads and writes the schema of the company asked for.
The suite runs with the switch on; the embedded lane of CI runs it off."""

from __future__ import annotations

import datetime as dt
import sys
import threading
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from infra.prepared_query import prepared_cursor
from tenants.models import Company
from tenants.postgresql_backend import base as backend
from tests.scim_client import Scim, okta_user
from tokens.services import token_issue

# psycopg prepares a statement once the connection has run it this many times.
RUNS_BEFORE_PREPARED = 5


def _prepared(fragment: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{fragment}%"],
        )
        return [row[0] for row in cursor.fetchall()]


def test_the_reads_every_request_repeats_are_prepared_on_the_connection(scim: Scim) -> None:
    user_id = scim.post("/Users", okta_user("prepared@acme.test")).json()["id"]

    for _ in range(RUNS_BEFORE_PREPARED + 1):
        assert scim.get(f"/Users/{user_id}").status_code == 200

    with CaptureQueriesContext(connection) as captured:
        assert scim.get(f"/Users/{user_id}").status_code == 200

    # What ran is what Django records, prepared or not (tests count and read statements so).
    assert any("tenants_domain" in (query["sql"] or "") for query in captured.captured_queries)
    assert any("directory_member" in (query["sql"] or "") for query in captured.captured_queries)
    routing, member = _prepared("tenants_domain"), _prepared('FROM "directory_member"')
    if settings.DB_PREPARED_STATEMENTS:
        assert routing and member  # the route + credential read, and the compiled GET
        assert all("$1" in statement for statement in routing + member)  # bound apart
    else:
        assert routing == member == []


def test_companies_taking_turns_on_one_connection_each_get_their_own_rows(
    scim: Scim, acme: Company, outsider: Company, client: Client
) -> None:
    with schema_context(outsider.schema_name):
        theirs = Scim(
            client,
            token_issue(company=outsider, name="Okta", actor="tests").secret,
            base="/t/outsider/scim/v2",
        )
    same_name = "shared.name@example.test"
    ours_id = scim.post("/Users", okta_user(same_name, displayName="Acme's")).json()["id"]
    theirs_id = theirs.post("/Users", okta_user(same_name, displayName="Outsider's")).json()["id"]
    query = '/Users?filter=userName eq "shared.name@example.test"'

    # Turns enough for every statement to be prepared, then read and written prepared.
    for turn in range(RUNS_BEFORE_PREPARED * 2):
        for api, own_id, own_name, other_id in (
            (scim, ours_id, "Acme's", theirs_id),
            (theirs, theirs_id, "Outsider's", ours_id),
        ):
            found: Any = api.get(query).json()["Resources"]
            assert [(u["id"], u["displayName"]) for u in found] == [(own_id, own_name)]
            assert api.get(f"/Users/{own_id}").json()["displayName"] == own_name
            assert api.get(f"/Users/{other_id}").status_code == 404
            created = api.post(
                "/Users", okta_user(f"turn{turn}@example.test", externalId=f"{own_id}-{turn}")
            )
            assert created.status_code == 201

    for company in (acme, outsider):
        with schema_context(company.schema_name), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM directory_member WHERE user_name LIKE 'turn%%'")
            assert cursor.fetchone() == (RUNS_BEFORE_PREPARED * 2,)


def _schema(cursor: Any) -> str:
    cursor.execute("SELECT current_schema()")
    return str(cursor.fetchone()[0])


def test_the_connection_lends_one_kept_cursor_and_a_fresh_one_inside_it(acme: Company) -> None:
    with prepared_cursor() as first:
        first.execute("SELECT 1")
        assert first.fetchone() == (1,)
    with prepared_cursor() as second:
        # A block inside another's gets a cursor of its own: the outer one's rows stay.
        second.execute("SELECT n FROM generate_series(1, 3) AS n")
        with prepared_cursor() as inner:
            inner.execute("SELECT 42")
            assert inner.fetchone() == (42,)
        assert second.fetchall() == [(1,), (2,), (3,)]
    with prepared_cursor() as third:
        third.execute("SELECT 2")
        assert third.fetchone() == (2,)

    assert inner is not second and inner.closed
    if settings.DB_PREPARED_STATEMENTS:
        assert first is second is third and not third.closed
    else:
        assert first is not second and first.closed


def test_a_kept_cursor_follows_the_company_and_the_connection(
    acme: Company, outsider: Company
) -> None:
    with prepared_cursor() as cursor:
        assert _schema(cursor) == acme.schema_name
    with schema_context(outsider.schema_name), prepared_cursor() as cursor:
        assert _schema(cursor) == outsider.schema_name
    with prepared_cursor() as cursor:
        assert _schema(cursor) == acme.schema_name

    # A connection ended (a restart, a failover, CONN_MAX_AGE): the next block has a cursor on
    # the new one. In a thread of its own: the test's transaction holds this thread's.
    seen: list[str] = []

    def after_a_close() -> None:
        try:
            with schema_context(acme.schema_name):
                for _ in range(2):
                    with prepared_cursor() as cursor:
                        seen.append(_schema(cursor))
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=after_a_close)
    thread.start()
    thread.join()
    assert seen == [acme.schema_name, acme.schema_name]


def _loaders_built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Appends to the list each time psycopg builds a timestamptz loader: what it does for
    each column of that type whenever it sets a statement's adapters up anew."""
    built: list[int] = []
    original = backend._UtcTimestamptzLoader.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(backend._UtcTimestamptzLoader, "__init__", counting)
    return built


# Two statements reading a timestamptz, with a parameter each, as a request's route read and
# its member read take turns on the kept cursor.
_AT = "SELECT %s::timestamptz + interval '1 day'"
_COUNTED = "SELECT %s::int + 1, %s::timestamptz"


def test_statements_taking_turns_on_a_kept_cursor_keep_their_adapters(
    acme: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    built = _loaders_built(monkeypatch)

    turns = []
    for turn in range(3):
        with prepared_cursor() as cursor:
            cursor.execute(_AT, [at])
            turns.append(cursor.fetchone())
        with prepared_cursor() as cursor:
            # A statement equal to the first but built anew is the same statement.
            cursor.execute("".join(list(_COUNTED)), [turn, at])
            turns.append(cursor.fetchone())

    day = dt.timedelta(days=1)
    assert turns == [(at + day,), (1, at), (at + day,), (2, at), (at + day,), (3, at)]
    if settings.DB_PREPARED_STATEMENTS:
        assert len(built) == 2  # one per statement, on its first run
    else:
        assert len(built) == 6  # a fresh cursor, and adapters, for every block


def test_a_kept_cursor_lets_go_of_a_finished_statements_rows(acme: Company) -> None:
    with prepared_cursor() as cursor:
        cursor.execute("SELECT n, repeat('x', 1000) FROM generate_series(1, %s) AS n", [500])
        assert len(cursor.fetchall()) == 500
        page = cursor.cursor.pgresult
    with prepared_cursor() as cursor:
        cursor.execute("SELECT %s::int", [1])
        assert cursor.fetchone() == (1,)

    # Only this test's name and getrefcount's argument hold the 500 rows now: the statement's
    # kept adapters do not (they are kept for its next run, without its last result).
    assert sys.getrefcount(page) == 2


def test_statements_on_a_kept_cursor_are_recorded_while_django_records(acme: Company) -> None:
    with prepared_cursor() as cursor:
        cursor.execute("SELECT 'before'")
    with CaptureQueriesContext(connection) as captured, prepared_cursor() as cursor:
        cursor.execute("SELECT 'while recording'")

    assert [query["sql"] for query in captured.captured_queries] == ["SELECT 'while recording'"]
