"""scim_protocol/bulk.py without a database: parsing, bulkId order, cycles, limits, and the
response run_bulk builds."""

from __future__ import annotations

from typing import Any

import pytest

from scim_protocol.bulk import (
    BULK_REQUEST,
    MAX_OPERATIONS,
    MAX_PAYLOAD_BYTES,
    Operation,
    Outcome,
    check_payload_size,
    execution_order,
    parse_bulk_request,
    run_bulk,
)
from scim_protocol.errors import BulkTooLarge, InvalidSyntax, InvalidValue, ScimError, Uniqueness


def post(bulk_id: str, resource: str = "/Users", **data: Any) -> dict[str, Any]:
    return {"method": "POST", "path": resource, "bulkId": bulk_id, "data": data}


def request(*operations: Any, **extra: Any) -> Any:
    return parse_bulk_request({"schemas": [BULK_REQUEST], "Operations": list(operations), **extra})


def order(*operations: Any) -> tuple[list[int], list[int]]:
    ordered, cyclic = execution_order(request(*operations).operations)
    return [op.index for op in ordered], [op.index for op in cyclic]


def test_operations_run_in_request_order_unless_they_wait_for_a_bulk_id() -> None:
    assert order(post("a"), post("b"), post("c")) == ([0, 1, 2], [])
    assert order(post("g", "/Groups", members=[{"value": "bulkId:u"}]), post("u")) == ([1, 0], [])
    chained = order(
        post("c", manager={"value": "bulkId:b"}),
        post("b", manager={"value": "bulkId:a"}),
        post("a"),
    )
    assert chained == ([2, 1, 0], [])


def test_cycles_are_found_including_a_post_naming_itself() -> None:
    assert order(post("p", m="bulkId:q"), post("q", m="bulkId:p"), post("r")) == ([2], [0, 1])
    assert order(post("s", m="bulkId:s")) == ([], [0])


def test_references_are_found_in_paths_and_nested_values() -> None:
    parsed = request(
        post("u"),
        {
            "method": "PATCH",
            "path": "/Groups/bulkId:g",
            "data": {"Operations": [{"value": [{"value": "bulkId:u"}]}]},
        },
        post("g", "/Groups"),
    )

    assert parsed.operations[1].references == frozenset({"u", "g"})
    assert parsed.operations[1].target == "bulkId:g"
    assert [op.error for op in parsed.operations] == [None, None, None]


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        ({"method": "GET", "path": "/Users"}, "method"),
        ({"method": "POST", "path": "/Users", "data": {}}, "bulkId"),
        ({"method": "POST", "path": "/Users/1", "bulkId": "a", "data": {}}, "bulkId"),
        ({"method": "PUT", "path": "/Users", "data": {}}, "needs"),
        ({"method": "PATCH", "path": "/Users/1", "data": []}, "data"),
        ({"method": "DELETE", "path": "/Printers/1"}, "path"),
        ({"method": "DELETE", "path": "/Users/bulkId:none"}, "names no POST"),
        ({"method": "POST", "path": "/Users", "bulkId": "", "data": {}}, "bulkId"),
        ({"method": "POST", "path": "/Users", "bulkId": "x" * 256, "data": {}}, "bulkId"),
        ("text", "object"),
    ],
)
def test_an_operation_that_cannot_run_carries_its_error(operation: Any, message: str) -> None:
    (parsed,) = request(operation).operations

    assert isinstance(parsed.error, InvalidValue | InvalidSyntax)
    assert message in parsed.error.detail


def test_a_bulk_id_used_twice_refuses_the_second() -> None:
    first, second = request(post("a"), post("a")).operations

    assert first.error is None and second.error is not None
    assert "twice" in second.error.detail


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], InvalidSyntax),
        ({"Operations": [post("a")]}, InvalidSyntax),
        ({"schemas": [BULK_REQUEST]}, InvalidSyntax),
        ({"schemas": [BULK_REQUEST], "Operations": {}}, InvalidSyntax),
        ({"schemas": [BULK_REQUEST], "Operations": [post("a")], "failOnErrors": 0}, InvalidValue),
        ({"schemas": [BULK_REQUEST], "Operations": [post("a")], "failOnErrors": "1"}, InvalidValue),
        (
            {"schemas": [BULK_REQUEST], "Operations": [post("a")], "failOnErrors": True},
            InvalidValue,
        ),
        (
            {"schemas": [BULK_REQUEST], "Operations": [post("a")] * (MAX_OPERATIONS + 1)},
            BulkTooLarge,
        ),
    ],
)
def test_a_bad_envelope_is_refused_whole(body: Any, error: type[ScimError]) -> None:
    with pytest.raises(error):
        parse_bulk_request(body)


def test_names_are_case_insensitive() -> None:
    parsed = parse_bulk_request(
        {
            "SCHEMAS": [BULK_REQUEST.upper()],
            "operations": [{"Method": "delete", "PATH": "/users/1"}],
        }
    )

    assert parsed.operations[0].method == "DELETE" and parsed.operations[0].resource == "Users"


def test_payload_size_limit_is_413_too_large() -> None:
    check_payload_size(MAX_PAYLOAD_BYTES)
    with pytest.raises(BulkTooLarge) as raised:
        check_payload_size(MAX_PAYLOAD_BYTES + 1)

    assert raised.value.status == 413 and raised.value.scim_type == "tooLarge"


def test_run_bulk_resolves_ids_counts_errors_and_reports_in_request_order() -> None:
    created: list[tuple[str, Any]] = []
    refused: list[int] = []

    def perform(operation: Operation, target: str | None, data: Any) -> Outcome:
        if data.get("fail"):
            raise Uniqueness("taken")
        created.append((operation.bulk_id or "", data))
        return Outcome(201, f"id-{operation.bulk_id}", 'W/"1"')

    parsed = request(
        post("g", "/Groups", members=[{"value": "bulkId:u"}]),
        post("u"),
        post("bad", fail=True),
        post("h", "/Groups", members=[{"value": "bulkId:bad"}]),
        post("never"),
        failOnErrors=2,
    )

    response = run_bulk(
        parsed,
        perform,
        location=lambda resource, resource_id: f"/{resource}/{resource_id}",
        refuse=lambda operation, error: refused.append(operation.index),
    )

    assert created == [("u", {}), ("g", {"members": [{"value": "id-u"}]})]
    assert [(r["bulkId"], r["status"]) for r in response["Operations"]] == [
        ("g", "201"),
        ("u", "201"),
        ("bad", "409"),
        ("h", "409"),
    ]
    assert response["Operations"][0]["location"] == "/Groups/id-g"
    assert refused == [3]
