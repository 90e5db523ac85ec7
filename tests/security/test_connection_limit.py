"""PostgreSQL refusing connections (too many clients, SQLSTATE 53300) is an overload, not a
bug: a 503 with Retry-After and a SCIM error, as for an unreachable database.

The refusal is the real server's: the server under test connects as a role whose
CONNECTION LIMIT is 0, so PostgreSQL answers every connection with
`FATAL: too many connections for role` (53300, as `sorry, too many clients already` is).
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from tests import live as live_servers
from tests.live import gunicorn_server

pytestmark = [pytest.mark.live, pytest.mark.django_db]


@pytest.fixture
def role_without_connections(django_db_blocker: Any) -> Iterator[str]:
    role = f"hc_limit_{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')
    try:
        yield role
    finally:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(f'DROP ROLE IF EXISTS "{role}"')


def get(base: str, path: str) -> tuple[int, str, dict[str, str]]:
    url = urlsplit(base)
    client = http.client.HTTPConnection(url.hostname or "", url.port, timeout=20)
    try:
        client.request("GET", path, headers={"Authorization": "Bearer hct_x"})
        response = client.getresponse()
        return response.status, response.read().decode(), dict(response.getheaders())
    finally:
        client.close()


def test_too_many_connections_is_a_503_to_retry(
    role_without_connections: str, tmp_path: Path
) -> None:
    database = urlsplit(live_servers.test_database_url())
    as_limited_role = urlunsplit(
        database._replace(
            netloc=f"{role_without_connections}@{database.hostname}:{database.port or 5432}"
        )
    )

    with gunicorn_server(tmp_path, DATABASE_URL=as_limited_role) as base:
        scim = get(base, "/t/acme/scim/v2/Users")
        portal = get(base, "/t/acme/login/")
        health = get(base, "/healthz")
        alive = get(base, "/livez")

    status, body, headers = scim
    assert status == 503, body
    assert json.loads(body)["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert json.loads(body)["status"] == "503"
    assert headers["Retry-After"] == "5"
    assert portal[0] == 503 and "Headcount is briefly unavailable" in portal[1]
    assert portal[2]["Retry-After"] == "5"
    assert health[0] == 503
    assert alive[0] == 200


# Behind pgbouncer (docs/scaling.md), the client's connection is already open when PostgreSQL
# refuses the server connection pgbouncer opens for it: "sorry, too many clients already"
# reaches the application as a query's error, with its SQLSTATE. A trigger makes the real
# server answer a SCIM write that way.
@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        ("53300", 503),  # too_many_connections: an overload, retry
        ("53200", 503),  # out_of_memory (and out of shared memory): an overload, retry
        ("53100", 500),  # disk_full: needs an operator, retrying does not help
    ],
)
def test_insufficient_resources_answered_by_the_server_mid_request(
    acme: Any, scim: Any, sqlstate: str, expected: int
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION 'sorry, too many clients already' "
            f"USING ERRCODE = '{sqlstate}'; END $$"
        )
        cursor.execute(
            f'CREATE TRIGGER refuse BEFORE INSERT ON "{acme.schema_name}".directory_member '
            "FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse()"
        )

    response = scim.post(
        "/Users",
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x@example.com"},
    )

    body = response.json()
    assert response.status_code == expected
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(expected)
    assert (response.get("Retry-After") == "5") == (expected == 503)
