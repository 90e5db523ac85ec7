"""A /Bulk request answers 200 whatever its operations did. Its failed operations are the
company's failures all the same: the Overview counts them and says Failing, and "Refused and
failed requests" lists them with each operation's own status and error code, in one
statement per request."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from directory.models import RequestTally
from tenants.models import Company
from tests.provisioning_ui.test_access_rights import signed_in
from tests.provisioning_ui.test_connection_status import overview, state
from tests.scim.test_bulk import bulk, create_user
from tests.scim_client import Scim, okta_user


def send_bulk(scim: Scim, operations: list[dict[str, Any]]) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        reply = scim.post("/Bulk", bulk(operations))
    assert reply.status_code == 200, reply.content
    tallies = [q["sql"] for q in queries.captured_queries if "directory_requesttally" in q["sql"]]
    assert len(tallies) == 1, tallies  # one statement for the request, however many failed
    return [operation["status"] for operation in reply.json()["Operations"]]


def test_a_bulk_whose_every_operation_failed_is_failing_and_listed(
    acme: Company, scim: Scim
) -> None:
    browser = signed_in(acme)
    assert scim.post("/Users", okta_user("seated@acme.test")).status_code == 201
    Company.objects.filter(pk=acme.pk).update(seat_limit=1)

    statuses = send_bulk(scim, [create_user(f"b{n}", f"past{n}") for n in range(3)])
    page = overview(browser)
    log = browser.get("/t/acme/log/").content.decode()

    assert statuses == ["403", "403", "403"]
    assert state(page) == "Failing"
    # The create that worked and the three operations: the bulk itself succeeded at nothing.
    assert "4 requests, 3 failed or refused" in page
    with schema_context(acme.schema_name):
        (tally,) = RequestTally.objects.all()
    assert (tally.status, tally.count, tally.path, tally.error_code) == (
        403,
        3,
        "/t/acme/scim/v2/Bulk",
        "seat_limit",
    )
    assert "Seat limit reached" in tally.detail
    assert f'href="/t/acme/log/refused/{tally.pk}/"' in log


def test_a_bulk_with_failures_of_several_kinds_counts_each_under_its_status(
    acme: Company, scim: Scim
) -> None:
    browser = signed_in(acme)
    assert scim.post("/Users", okta_user("taken@acme.test")).status_code == 201

    statuses = send_bulk(
        scim,
        [
            create_user("ok", "fresh"),
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "dup",
                "data": okta_user("taken@acme.test"),
            },
            {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"userName": ""}},
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "dup2",
                "data": okta_user("TAKEN@acme.test"),
            },
        ],
    )
    page = overview(browser)

    assert statuses == ["201", "409", "400", "409"]
    assert state(page) == "Failing"
    assert "5 requests, 3 failed or refused" in page  # the create, the bulk, 3 operations
    with schema_context(acme.schema_name):
        counts = dict(RequestTally.objects.values_list("status", "count"))
    assert counts == {409: 2, 400: 1}


def test_a_bulk_whose_operations_all_worked_adds_no_failure(acme: Company, scim: Scim) -> None:
    browser = signed_in(acme)

    send_bulk_ok = scim.post("/Bulk", bulk([create_user("a", "one"), create_user("b", "two")]))
    page = overview(browser)

    assert send_bulk_ok.status_code == 200
    assert state(page) == "Healthy"
    assert "1 request, 0 failed or refused" in page
    with schema_context(acme.schema_name):
        assert not RequestTally.objects.exists()
