"""The statements every SCIM request repeats are prepared on the connection
(DB_PREPARED_STATEMENTS, tenants/postgresql_backend): PostgreSQL stops parsing and planning
them, and a prepared statement still reads and writes the schema of the company asked for.
The suite runs with the switch on; the embedded lane of CI runs it off."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from tenants.models import Company
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
