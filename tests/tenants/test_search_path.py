"""`SET search_path` is sent once per company switch (tenants/postgresql_backend), and never
trusted after the database may have dropped it: every query still runs in the schema of the
company selected."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import psycopg
import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from tenants.models import Company
from tests.scim_client import Scim, okta_user
from tokens.services import token_issue


def _current_search_path() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        return str(cursor.fetchone()[0])


@contextmanager
def statements_sent() -> Iterator[list[str]]:
    """Every statement sent to PostgreSQL in the block, SETs included (django-tenants sends
    them on the driver's cursor, which Django's query capture does not see), through either
    of psycopg's cursors (client-side binding, or server-side for prepared statements)."""
    cursor_class: Any = psycopg.Cursor
    sent: list[str] = []
    original = cursor_class.execute

    def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return original(self, query, *args, **kwargs)

    with mock.patch.object(cursor_class, "execute", execute):
        yield sent


def _sets(sent: list[str]) -> list[str]:
    return [sql for sql in sent if sql.startswith("SET search_path")]


def _path(company: Company) -> str:
    return f'SET search_path = "{company.schema_name}","public"'


def test_requests_to_the_same_company_send_no_search_path(acme: Company, scim: Scim) -> None:
    created = scim.post("/Users", okta_user("same@acme.test")).json()
    connection.set_schema_to_public()
    with statements_sent() as first:
        scim.get(f"/Users/{created['id']}")

    with statements_sent() as again:
        found = scim.get('/Users?filter=userName eq "SAME@acme.test"').json()

    assert found["Resources"][0]["id"] == created["id"]
    assert _sets(first)[-1] == _path(acme)
    # Routing with the credential (one statement), the user: nothing else, and no SET.
    assert len(again) == 2 and _sets(again) == []


def test_alternating_companies_each_see_their_own_users(
    scim: Scim, outsider: Company, client: Client
) -> None:
    with schema_context(outsider.schema_name):
        issued = token_issue(company=outsider, name="Entra", actor="tests")
    theirs = Scim(client, issued.secret, base="/t/outsider/scim/v2")
    scim.post("/Users", okta_user("ours@acme.test"))
    theirs.post("/Users", okta_user("theirs@outsider.test"))

    for _ in range(3):
        with statements_sent() as to_ours:
            ours_seen = scim.get("/Users").json()
        with statements_sent() as to_theirs:
            theirs_seen = theirs.get("/Users").json()

        assert [u["userName"] for u in ours_seen["Resources"]] == ["ours@acme.test"]
        assert [u["userName"] for u in theirs_seen["Resources"]] == ["theirs@outsider.test"]
        assert _sets(to_ours) == [_path(Company.objects.get(slug="acme"))]
        assert _sets(to_theirs) == [_path(outsider)]


@pytest.mark.parametrize("how", ["savepoint", "error inside atomic"])
def test_a_rolled_back_switch_is_sent_again(acme: Company, outsider: Company, how: str) -> None:
    with schema_context(acme.schema_name):
        User.objects.create_user(email="kept@acme.test")
    connection.set_tenant(acme)
    assert User.objects.filter(email="kept@acme.test").exists()

    # The switch to outsider happens inside a block that is rolled back: PostgreSQL reverts the
    # SET with it, back to acme's path, while Django still has outsider selected.
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        connection.set_tenant(outsider)
        assert not User.objects.filter(email="kept@acme.test").exists()
        if how == "savepoint":
            with transaction.atomic():
                1 / 0  # noqa: B018
        1 / 0  # noqa: B018

    assert connection.schema_name == outsider.schema_name
    # The next query re-sends outsider's path instead of reading acme's rows.
    assert not User.objects.filter(email="kept@acme.test").exists()
    assert _current_search_path() == f"{outsider.schema_name}, public"


def test_switching_back_after_a_rollback_is_sent_too(acme: Company, outsider: Company) -> None:
    connection.set_tenant(outsider)
    _current_search_path()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        connection.set_tenant(acme)
        assert _current_search_path() == f"{acme.schema_name}, public"
        1 / 0  # noqa: B018

    # PostgreSQL is back on outsider; Django still has acme selected, and says so again.
    connection.set_tenant(acme)

    assert _current_search_path() == f"{acme.schema_name}, public"


def test_a_new_connection_gets_the_path_again(acme: Company) -> None:
    # A connection of its own: closing the test's would end its transaction.
    other = connections.create_connection("default")
    try:
        other.set_tenant(acme)
        with other.cursor() as cursor:
            cursor.execute("SHOW search_path")
        other.close()

        with other.cursor() as cursor:
            cursor.execute("SHOW search_path")
            assert cursor.fetchone()[0] == f"{acme.schema_name}, public"
    finally:
        other.close()
