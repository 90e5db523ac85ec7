"""The company and the SCIM credential in one statement (tenants.middleware.RouteRead).

Routing remembers each slug's schema to name the credential table before the route is read;
these tests make that memory wrong in every way it can be, and check that the route still
decides: a credential is only ever taken from the routed company's own schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tenants import middleware
from tenants.middleware import company_for_route
from tenants.models import Company
from tests.live import in_thread
from tests.scim.test_authentication import basic, bearer, issue_basic, issue_token
from tokens.secrets import BEARER_PREFIX, generate_secret
from tokens.selectors import bearer_read
from tokens.services import credential_revoke

SPC = "/t/{slug}/scim/v2/ServiceProviderConfig"


@pytest.fixture
def remembered() -> Iterator[dict[str, str]]:
    """Routing's slug → schema memory of this process, restored after the test."""
    saved = dict(middleware._schemas)
    yield middleware._schemas
    middleware._schemas.clear()
    middleware._schemas.update(saved)


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SET ")]


def test_a_known_company_and_its_credential_are_one_statement(
    acme: Company, client: Client
) -> None:
    issued = issue_token(acme)
    client.get(SPC.format(slug="acme"), **bearer(issued.secret))  # first use: recorded once

    with CaptureQueriesContext(connection) as queries:
        response = client.get(SPC.format(slug="acme"), **bearer(issued.secret))

    assert response.status_code == 200
    (routed,) = statements(queries)
    assert "tenants_domain" in routed and f'"{acme.schema_name}"."tokens_credential"' in routed


def test_the_first_request_of_a_process_learns_the_schema(
    acme: Company, client: Client, remembered: dict[str, str]
) -> None:
    issued = issue_token(acme)
    client.get(SPC.format(slug="acme"), **bearer(issued.secret))
    remembered.clear()

    with CaptureQueriesContext(connection) as queries:
        first = client.get(SPC.format(slug="acme"), **bearer(issued.secret))
    cold = statements(queries)  # now: the next request clears Django's query log
    with CaptureQueriesContext(connection) as queries:
        second = client.get(SPC.format(slug="acme"), **bearer(issued.secret))
    warm = statements(queries)

    assert first.status_code == second.status_code == 200
    assert len(cold) == 2 and len(warm) == 1
    assert remembered["acme"] == acme.schema_name


def test_a_slug_remembered_with_another_companys_schema_never_takes_its_credential(
    acme: Company, outsider: Company, client: Client, remembered: dict[str, str]
) -> None:
    # As if `acme` had been the outsider's slug when this process last saw it: the statement
    # reads the credential table of the outsider's schema, where this token exists.
    outsiders = issue_token(outsider)
    acmes = issue_token(acme)
    remembered["acme"] = outsider.schema_name

    refused = client.get(SPC.format(slug="acme"), **bearer(outsiders.secret))
    remembered["acme"] = outsider.schema_name
    accepted = client.get(SPC.format(slug="acme"), **bearer(acmes.secret))

    assert refused.status_code == 401
    assert accepted.status_code == 200
    assert remembered["acme"] == acme.schema_name


def test_an_unknown_slug_remembered_with_a_schema_is_still_a_404(
    acme: Company, client: Client, remembered: dict[str, str]
) -> None:
    issued = issue_token(acme)
    remembered["nobody"] = acme.schema_name

    response = client.get(SPC.format(slug="nobody"), **bearer(issued.secret))

    assert response.status_code == 404
    assert "nobody" not in remembered


def test_basic_credentials_are_read_with_the_route_and_checked_whole(
    acme: Company, client: Client
) -> None:
    pair = issue_basic(acme)
    username = pair.credential.username or ""
    client.get(SPC.format(slug="acme"), **basic(username, pair.secret))

    with CaptureQueriesContext(connection) as queries:
        right = client.get(SPC.format(slug="acme"), **basic(username, pair.secret))
    read = statements(queries)  # now: the next request clears Django's query log
    # Its last character changed (never to itself: one secret in 62 ends in "x").
    other = "y" if pair.secret.endswith("x") else "x"
    wrong = client.get(SPC.format(slug="acme"), **basic(username, pair.secret[:-1] + other))

    assert right.status_code == 200 and len(read) == 1
    assert wrong.status_code == 401


def test_a_token_revoked_between_two_requests_is_refused_at_once(
    acme: Company, client: Client
) -> None:
    issued = issue_token(acme)
    assert client.get(SPC.format(slug="acme"), **bearer(issued.secret)).status_code == 200
    credential_revoke(credential_id=str(issued.credential.pk), actor="tests")

    with CaptureQueriesContext(connection) as queries:
        response = client.get(SPC.format(slug="acme"), **bearer(issued.secret))

    assert response.status_code == 401
    # The refusal is recorded as a revoked credential from the same read: no second lookup.
    assert sum("tokens_credential" in sql for sql in statements(queries)) == 1


def test_a_token_the_company_never_issued_is_refused_from_the_same_read(
    acme: Company, client: Client
) -> None:
    issued = issue_token(acme)
    client.get(SPC.format(slug="acme"), **bearer(issued.secret))  # the schema is learned
    unknown = generate_secret(BEARER_PREFIX)  # well formed: it gets the read

    with CaptureQueriesContext(connection) as queries:
        response = client.get(SPC.format(slug="acme"), **bearer(unknown))

    assert response.status_code == 401
    # The route's statement found no credential (its columns NULL): that is the answer, with
    # no lookup of its own (and the refusal's record too: tallies aside).
    assert sum("tokens_credential" in sql for sql in statements(queries)) == 1


def test_a_schema_dropped_by_another_process_is_learned_again(
    acme: Company, django_db_blocker: Any, remembered: dict[str, str]
) -> None:
    # Outside the test's transaction (as a server runs): the statement naming a schema that
    # no longer exists fails, and the route is read again on its own.
    remembered["acme"] = "co_dropped_meanwhile"

    def route() -> tuple[Any, bool]:
        with django_db_blocker.unblock():
            read = bearer_read(generate_secret(BEARER_PREFIX))
            company = company_for_route("acme", read) if read is not None else None
            connection.close()
            return company, read is not None and read.done

    company, read_done = in_thread(route)

    assert company is not None and company.pk == acme.pk
    assert not read_done  # the credential is then looked up by authentication, as before
    assert remembered["acme"] == acme.schema_name


def test_deleting_a_company_forgets_every_remembered_schema(
    acme: Company, remembered: dict[str, str]
) -> None:
    remembered["gone"] = "co_gone"
    connection.set_schema_to_public()
    company = Company(schema_name="co_never_created", slug="never-created", name="Never")
    company.auto_create_schema = False
    company.save()

    company.delete()

    assert remembered == {}
