"""POST /Bulk (RFC 7644 §3.7) as a client sends it: bulkId references, failOnErrors, limits,
the seat limit, and one ledger row per operation, each through the single endpoints'
services."""

from __future__ import annotations

from typing import Any

import pytest

from directory.models import Group, Member, ProvisioningEvent
from scim_protocol.bulk import MAX_OPERATIONS, MAX_PAYLOAD_BYTES
from tenants.models import Company
from tests.database_errors import raised_by_django
from tests.scim_client import PATCH_OP, Scim, assert_error, okta_user

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def bulk(operations: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"schemas": [BULK_REQUEST], "Operations": operations, **extra}


def create_user(bulk_id: str, name: str, **overrides: Any) -> dict[str, Any]:
    user = okta_user(f"{name}@bulk.test", externalId=f"ext-{name}", **overrides)
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": user}


def send(scim: Scim, body: Any, request_id: str = "bulk-request-0001") -> Any:
    reply = scim.post("/Bulk", body, HTTP_X_REQUEST_ID=request_id)
    assert reply.status_code == 200, reply.content
    payload = reply.json()
    assert payload["schemas"] == [BULK_RESPONSE]
    return payload["Operations"]


def test_a_group_listing_users_by_bulk_id_is_created_after_them(scim: Scim) -> None:
    # The group comes first in the request; it waits for the users it names (§3.7.2).
    operations = [
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "g1",
            "data": {
                "schemas": [CORE_GROUP],
                "displayName": "Engineering",
                "members": [{"value": "bulkId:alice"}, {"value": "bulkId:bob"}],
            },
        },
        create_user("alice", "alice"),
        create_user("bob", "bob"),
    ]

    results = send(scim, bulk(operations))

    assert [(r["method"], r["bulkId"], r["status"]) for r in results] == [
        ("POST", "g1", "201"),
        ("POST", "alice", "201"),
        ("POST", "bob", "201"),
    ]
    ids = {r["bulkId"]: r["location"].rsplit("/", 1)[1] for r in results}
    assert results[1]["location"] == f"http://testserver/t/acme/scim/v2/Users/{ids['alice']}"
    assert results[0]["location"] == f"http://testserver/t/acme/scim/v2/Groups/{ids['g1']}"
    assert all(r["version"] == 'W/"1"' for r in results)
    group = scim.get(f"/Groups/{ids['g1']}").json()
    assert sorted(m["value"] for m in group["members"]) == sorted([ids["alice"], ids["bob"]])
    alice = scim.get(f"/Users/{ids['alice']}").json()
    assert [g["display"] for g in alice["groups"]] == ["Engineering"]


def test_paths_and_manager_values_resolve_bulk_ids(scim: Scim) -> None:
    operations = [
        create_user("boss", "boss"),
        create_user("report", "report", **{ENTERPRISE: {"manager": {"value": "bulkId:boss"}}}),
        {
            "method": "PATCH",
            "path": "/Users/bulkId:report",
            "data": {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}],
            },
        },
        {"method": "DELETE", "path": "/Users/bulkId:boss"},
    ]

    results = send(scim, bulk(operations))

    assert [r["status"] for r in results] == ["201", "201", "200", "204"]
    report_id = results[1]["location"].rsplit("/", 1)[1]
    assert results[2]["location"].endswith(f"/Users/{report_id}")
    assert results[2]["version"] == 'W/"2"'
    report = Member.objects.get(pk=report_id)
    assert report.display_name == "Renamed"
    assert not Member.objects.filter(user_name="boss@bulk.test").exists()


def test_operations_are_not_atomic_and_errors_carry_a_scim_error(scim: Scim) -> None:
    assert scim.post("/Users", okta_user("taken@bulk.test", externalId="t")).status_code == 201
    operations = [
        create_user("a", "first"),
        {"method": "POST", "path": "/Users", "bulkId": "dup", "data": okta_user("taken@bulk.test")},
        create_user("c", "third"),
    ]

    results = send(scim, bulk(operations))

    assert [r["status"] for r in results] == ["201", "409", "201"]
    assert results[1]["response"]["schemas"] == [ERROR]
    assert results[1]["response"]["scimType"] == "uniqueness"
    assert "location" not in results[1]
    assert Member.objects.filter(user_name__in=["first@bulk.test", "third@bulk.test"]).count() == 2


def test_fail_on_errors_stops_after_that_many_errors(scim: Scim) -> None:
    assert scim.post("/Users", okta_user("taken@bulk.test", externalId="t")).status_code == 201
    operations = [
        create_user("a", "one"),
        {"method": "POST", "path": "/Users", "bulkId": "x", "data": okta_user("taken@bulk.test")},
        create_user("c", "never"),
    ]

    results = send(scim, bulk(operations, failOnErrors=1))

    assert [(r["bulkId"], r["status"]) for r in results] == [("a", "201"), ("x", "409")]
    assert not Member.objects.filter(user_name="never@bulk.test").exists()


def test_references_that_cannot_resolve_are_refused_without_a_write(scim: Scim) -> None:
    operations = [
        # A cycle: each user's manager is the other (§3.7.1 allows 409).
        create_user("p", "p", **{ENTERPRISE: {"manager": {"value": "bulkId:q"}}}),
        create_user("q", "q", **{ENTERPRISE: {"manager": {"value": "bulkId:p"}}}),
        # A reference to a POST that fails (no userName) and to one nobody sent.
        {"method": "POST", "path": "/Users", "bulkId": "broken", "data": {"schemas": []}},
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "g",
            "data": {
                "schemas": [CORE_GROUP],
                "displayName": "G",
                "members": [{"value": "bulkId:broken"}],
            },
        },
        {"method": "DELETE", "path": "/Users/bulkId:nobody"},
    ]

    results = send(scim, bulk(operations))

    assert [r["status"] for r in results] == ["409", "409", "400", "409", "400"]
    assert "cycle" in results[0]["response"]["detail"]
    assert "failed" in results[3]["response"]["detail"]
    assert results[4]["response"]["scimType"] == "invalidValue"
    assert not Member.objects.filter(user_name__in=["p@bulk.test", "q@bulk.test"]).exists()
    assert not Group.objects.filter(display_name="G").exists()


def test_version_is_if_match(scim: Scim) -> None:
    created = scim.post("/Users", okta_user("v@bulk.test", externalId="v")).json()
    replace = {
        "method": "PUT",
        "path": f"/Users/{created['id']}",
        "version": 'W/"7"',
        "data": okta_user("v@bulk.test", externalId="v"),
    }

    results = send(scim, bulk([replace]))

    assert results[0]["status"] == "412"
    assert results[0]["location"].endswith(f"/Users/{created['id']}")


def test_the_seat_limit_holds_inside_a_bulk_request(scim: Scim, acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(seat_limit=2, seats_used=0)
    operations = [create_user(f"s{n}", f"seat{n}") for n in range(4)]

    results = send(scim, bulk(operations))

    assert [r["status"] for r in results] == ["201", "201", "403", "403"]
    assert "Seat limit" in results[2]["response"]["detail"]
    assert Company.objects.get(pk=acme.pk).seats_used == 2


def test_each_operation_has_its_own_ledger_row_and_request_id(scim: Scim) -> None:
    operations = [
        create_user("a", "ledger-a"),
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"schemas": []}},
        {"method": "GET", "path": "/Users"},
        {"method": "PATCH", "path": "/Users/bulkId:a", "data": {"schemas": []}},
        {"method": "DELETE", "path": "/Users/bulkId:a"},
    ]

    send(scim, bulk(operations), request_id="bulk-ledger-0001")

    rows = {
        row.request_id: (row.operation, row.outcome, row.status)
        for row in ProvisioningEvent.objects.filter(request_id__startswith="bulk-ledger-0001")
    }
    assert rows == {
        "bulk-ledger-0001#1": ("create", "succeeded", 201),
        "bulk-ledger-0001#2": ("create", "failed", 400),
        "bulk-ledger-0001#3": ("bulk", "failed", 400),
        "bulk-ledger-0001#4": ("patch", "failed", 400),
        "bulk-ledger-0001#5": ("delete", "succeeded", 204),
    }


def test_more_than_max_operations_is_413_and_nothing_runs(scim: Scim) -> None:
    operations = [create_user(f"u{n}", f"many{n}") for n in range(MAX_OPERATIONS + 1)]

    reply = scim.post("/Bulk", bulk(operations))

    assert_error(reply, 413, "tooLarge")
    assert not Member.objects.filter(user_name__startswith="many").exists()


def test_a_body_over_max_payload_size_is_413_and_nothing_runs(scim: Scim) -> None:
    padding = "x" * (MAX_PAYLOAD_BYTES + 1)
    operations = [create_user("big", "big", title=padding)]

    reply = scim.post("/Bulk", bulk(operations))

    assert_error(reply, 413, "tooLarge")
    assert not Member.objects.filter(user_name="big@bulk.test").exists()


def test_a_malformed_bulk_request_is_a_scim_400(scim: Scim) -> None:
    no_schema = scim.post("/Bulk", {"Operations": [create_user("a", "a")]})
    no_operations = scim.post("/Bulk", bulk([]))
    bad_fail_on_errors = scim.post("/Bulk", bulk([create_user("a", "a")], failOnErrors=0))
    not_json = scim.send("POST", "/Bulk", "{", content_type="application/scim+json")

    assert_error(no_schema, 400, "invalidSyntax")
    assert_error(no_operations, 400, "invalidSyntax")
    assert_error(bad_fail_on_errors, 400, "invalidValue")
    assert_error(not_json, 400, "invalidSyntax")


def test_bad_operations_are_reported_one_by_one(scim: Scim) -> None:
    operations = [
        {"method": "POST", "path": "/Users", "data": okta_user("nobulkid@bulk.test")},
        {"method": "POST", "path": "/Printers", "bulkId": "p", "data": {}},
        {"method": "PUT", "path": "/Users", "data": {}},
        create_user("same", "same1"),
        create_user("same", "same2"),
        "not an object",
    ]

    results = send(scim, bulk(operations))

    assert [r["status"] for r in results] == ["400", "400", "400", "201", "400", "400"]
    assert all(r["response"]["schemas"] == [ERROR] for r in results if r["status"] == "400")


def test_each_operation_counts_against_the_rate_limits(scim: Scim, acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(scim_rate_limit=5)
    first = [create_user(f"r{n}", f"rate{n}") for n in range(4)]
    second = [create_user(f"s{n}", f"rate-s{n}") for n in range(4)]

    done = scim.post("/Bulk", bulk(first))
    refused = scim.post("/Bulk", bulk(second))

    assert done.status_code == 200
    body = assert_error(refused, 429)
    assert "5 SCIM requests per minute" in body["detail"] and refused["Retry-After"]
    assert not Member.objects.filter(user_name__startswith="rate-s").exists()


def test_a_bulk_larger_than_a_minutes_budget_is_413_not_a_429_forever(
    scim: Scim, acme: Company
) -> None:
    # Retrying could never help: the answer says how many operations fit.
    Company.objects.filter(pk=acme.pk).update(scim_rate_limit=5)
    operations = [create_user(f"r{n}", f"rate{n}") for n in range(10)]

    reply = scim.post("/Bulk", bulk(operations))

    body = assert_error(reply, 413, "tooLarge")
    assert "at most 5" in body["detail"]
    assert not Member.objects.filter(user_name__startswith="rate").exists()


@pytest.mark.parametrize(
    ("cause", "detail"),
    [
        ("AdminShutdown", "The service is temporarily unavailable. Retry later."),
        ("QueryCanceled", "took longer than this server allows (25 s)"),
    ],
)
def test_an_operation_meeting_a_database_outage_is_a_503_to_retry_not_a_500(
    scim: Scim, monkeypatch: Any, settings: Any, cause: str, detail: str
) -> None:
    # The server shutting down mid-bulk (SQLSTATE 57P01), or a statement stopped by the web
    # server's statement timeout (57014): the IdP must retry the operation, not report a bug;
    # the operations done before it stand.
    from psycopg import errors as pg_errors

    from scim import views_bulk

    settings.DB_STATEMENT_TIMEOUT_SECONDS = 25
    create = views_bulk.services.member_create
    calls = []

    def away_on_the_second(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if len(calls) == 2:
            raise raised_by_django(getattr(pg_errors, cause)())
        return create(**kwargs)

    monkeypatch.setattr(views_bulk.services, "member_create", away_on_the_second)

    first, second, third = send(
        scim,
        bulk([create_user("a", "first"), create_user("b", "second"), create_user("c", "third")]),
    )

    assert first["status"] == "201"
    assert second["status"] == "503"
    assert detail in second["response"]["detail"]
    # The rest are not tried: each would wait its own timeout, and the bulk would outrun the
    # web server's. The IdP is told to retry them.
    assert third["status"] == "503"
    assert "Not tried" in third["response"]["detail"]
    assert "Operations[1]" in third["response"]["detail"]
    assert len(calls) == 2
    assert not Member.objects.filter(user_name="third@bulk.test").exists()


def test_an_operation_refused_after_the_database_went_away_keeps_the_bulks_answers(
    scim: Scim, monkeypatch: Any
) -> None:
    # The database goes away at the second operation; the third is malformed, so it is
    # refused before running, and its ledger row would meet the same outage. The bulk still
    # answers each operation (the first stays done) instead of one 503 for all of them.
    from psycopg import errors as pg_errors

    from scim import views_bulk

    create, record = views_bulk.services.member_create, views_bulk.ledger_failure
    away = []

    def away_on_the_second(**kwargs: Any) -> Any:
        if kwargs["payload"]["userName"] == "second@bulk.test":
            away.append(True)
            raise raised_by_django(pg_errors.AdminShutdown())
        return create(**kwargs)

    def ledger(*args: Any, **kwargs: Any) -> Any:
        if away:
            raise raised_by_django(pg_errors.AdminShutdown())
        return record(*args, **kwargs)

    monkeypatch.setattr(views_bulk.services, "member_create", away_on_the_second)
    monkeypatch.setattr(views_bulk, "ledger_failure", ledger)
    malformed = {"method": "FETCH", "path": "/Users", "bulkId": "c", "data": {}}

    first, second, third = send(
        scim, bulk([create_user("a", "first"), create_user("b", "second"), malformed])
    )

    assert [first["status"], second["status"], third["status"]] == ["201", "503", "400"]
    assert "method must be one of" in third["response"]["detail"]
    assert Member.objects.filter(user_name="first@bulk.test").exists()
