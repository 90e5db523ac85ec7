"""Bulk requests (RFC 7644 §3.7): the envelope, its limits, bulkId references and the order
operations run in. Plain Python: the HTTP view hands each operation to the same services as
the single endpoints (`perform`) and renders what `run_bulk` returns.

- Limits (§3.7.4): more than MAX_OPERATIONS operations or a body over MAX_PAYLOAD_BYTES is
  refused whole with 413 (BulkTooLarge), before anything runs.
- `bulkId:<id>` (§3.7.2), as a path's resource id or as any string value in `data` (a group's
  `members[].value`, a manager's `value`), names the resource created by the POST with that
  bulkId. Operations run in request order, except that one waiting for a bulkId runs right
  after the POST that defines it, so a group may come before the users it lists.
- A reference to a bulkId no operation defines is 400 invalidValue; to a POST that failed,
  409; a cycle of references (§3.7.1: "MAY ... return 409") is 409 for each operation in it.
- Not atomic (§3.7): each operation is its own write; `failOnErrors` stops the run after that
  many failed operations, and the response lists what ran.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scim_protocol.errors import (
    BulkTooLarge,
    InvalidSyntax,
    InvalidValue,
    ScimError,
    UnresolvedReference,
)

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
# Advertised in ServiceProviderConfig `bulk`. 1,000 creates of a typical Okta user (~1 KB)
# fit in MAX_PAYLOAD_BYTES; both bound the work (and the seat-lock holds) of one request.
MAX_OPERATIONS = 1000
MAX_PAYLOAD_BYTES = 1_048_576
METHODS = ("POST", "PUT", "PATCH", "DELETE")
RESOURCES = {"users": "Users", "groups": "Groups"}
# The longest bulkId kept; longer ones are refused (they only echo back).
MAX_BULK_ID = 255

_REFERENCE = re.compile(r"^bulkId:(.+)$", re.DOTALL)
_PATH = re.compile(r"^/?(?P<resource>[^/]+)(?:/(?P<target>[^/]+))?/?$")


@dataclass(frozen=True)
class Operation:
    """One operation of a bulk request, as sent; `error` when it cannot run at all."""

    index: int
    method: str
    bulk_id: str | None
    resource: str  # "Users" or "Groups"
    target: str | None  # the resource id (or "bulkId:<id>") of PUT, PATCH, DELETE
    version: str | None
    data: Any
    references: frozenset[str] = frozenset()
    error: ScimError | None = None


@dataclass(frozen=True)
class BulkRequest:
    fail_on_errors: int | None
    operations: list[Operation]


@dataclass(frozen=True)
class Outcome:
    """What one operation did: its status, the resource's id and version when there is one,
    and for an error the SCIM error body (`response`)."""

    status: int
    resource_id: str | None = None
    version: str | None = None
    response: dict[str, Any] | None = None


@dataclass
class _Run:
    ids: dict[str, str] = field(default_factory=dict)  # bulkId → created resource id
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    errors: int = 0


def check_payload_size(size: int) -> None:
    """Raise BulkTooLarge (413) for a body of more than MAX_PAYLOAD_BYTES bytes."""
    if size > MAX_PAYLOAD_BYTES:
        raise BulkTooLarge(
            f"The bulk request is {size:,} bytes; at most {MAX_PAYLOAD_BYTES:,} "
            "(maxPayloadSize) are accepted: send the operations in several requests."
        )


def _field(data: Mapping[str, Any], name: str) -> Any:
    """A member of a JSON object, its name matched case-insensitively (RFC 7643 §2.1)."""
    return next((value for key, value in data.items() if str(key).lower() == name.lower()), None)


def parse_bulk_request(body: Any) -> BulkRequest:
    """The operations of a BulkRequest body. Raises InvalidSyntax for a body that is not one,
    InvalidValue for a bad failOnErrors, BulkTooLarge for more than MAX_OPERATIONS
    operations. An operation that cannot run (unknown method or path, POST without bulkId, a
    bulkId used twice, a reference nobody defines) carries its error instead."""
    if not isinstance(body, Mapping):
        raise InvalidSyntax("A BulkRequest is a JSON object.")
    schemas = _field(body, "schemas")
    if not isinstance(schemas, list) or BULK_REQUEST.lower() not in [
        str(s).lower() for s in schemas
    ]:
        raise InvalidSyntax(f'A BulkRequest lists "{BULK_REQUEST}" in schemas.')
    fail_on_errors = _field(body, "failOnErrors")
    if fail_on_errors is not None and (
        isinstance(fail_on_errors, bool)
        or not isinstance(fail_on_errors, int)
        or fail_on_errors < 1
    ):
        raise InvalidValue("failOnErrors is a positive integer.")
    raw = _field(body, "Operations")
    if not isinstance(raw, list) or not raw:
        raise InvalidSyntax('"Operations" must be a non-empty list of operations.')
    if len(raw) > MAX_OPERATIONS:
        raise BulkTooLarge(
            f"The bulk request has {len(raw):,} operations; at most {MAX_OPERATIONS:,} "
            "(maxOperations) are accepted: send them in several requests."
        )
    operations = [_operation(index, item) for index, item in enumerate(raw)]
    defined: set[str] = set()
    checked = []
    for operation in operations:
        bulk_id = operation.bulk_id
        if operation.method == "POST" and bulk_id:
            if bulk_id in defined:
                operation = _failed(operation, InvalidValue(f'bulkId "{bulk_id}" is used twice.'))
            else:
                defined.add(bulk_id)
        checked.append(operation)
    return BulkRequest(fail_on_errors, [_undefined(op, defined) for op in checked])


def _failed(operation: Operation, error: ScimError) -> Operation:
    return Operation(
        operation.index,
        operation.method,
        operation.bulk_id,
        operation.resource,
        operation.target,
        operation.version,
        operation.data,
        operation.references,
        error,
    )


def _undefined(operation: Operation, defined: set[str]) -> Operation:
    missing = sorted(operation.references - defined)
    if operation.error is None and missing:
        return _failed(
            operation,
            InvalidValue(f'"bulkId:{missing[0]}" names no POST operation of this request.'),
        )
    return operation


def _operation(index: int, item: Any) -> Operation:
    blank = Operation(index, "", None, "", None, None, None)
    if not isinstance(item, Mapping):
        return _failed(blank, InvalidSyntax(f"Operations[{index}] must be a JSON object."))
    method = str(_field(item, "method") or "").upper()
    bulk_id = _field(item, "bulkId")
    if bulk_id is not None and (
        not isinstance(bulk_id, str) or not 0 < len(bulk_id) <= MAX_BULK_ID
    ):
        return _failed(
            Operation(index, method, None, "", None, None, None),
            InvalidValue(f"Operations[{index}].bulkId must be a string of 1 to {MAX_BULK_ID}."),
        )
    version = _field(item, "version")
    data = _field(item, "data")
    operation = Operation(
        index,
        method,
        bulk_id,
        "",
        None,
        version if isinstance(version, str) else None,
        data,
        frozenset(_references(data)),
    )
    if method not in METHODS:
        return _failed(
            operation, InvalidValue(f"Operations[{index}].method must be one of {METHODS}.")
        )
    path = _field(item, "path")
    match = _PATH.match(path) if isinstance(path, str) else None
    resource = RESOURCES.get(match["resource"].lower()) if match else None
    if match is None or resource is None:
        return _failed(
            operation,
            InvalidValue(f"Operations[{index}].path must be /Users or /Groups, with an id."),
        )
    target = match["target"]
    references = set(operation.references)
    if target is not None and (reference := _REFERENCE.match(target)):
        references.add(reference[1])
    operation = Operation(
        index,
        method,
        bulk_id,
        resource,
        target,
        operation.version,
        data,
        frozenset(references),
    )
    if method == "POST" and (target is not None or bulk_id is None):
        return _failed(
            operation,
            InvalidValue(f"Operations[{index}]: a POST goes to /{resource} and carries a bulkId."),
        )
    if method != "POST" and target is None:
        return _failed(
            operation, InvalidValue(f"Operations[{index}]: {method} needs /{resource}/<id>.")
        )
    if method != "DELETE" and not isinstance(data, Mapping):
        return _failed(operation, InvalidSyntax(f"Operations[{index}].data must be an object."))
    return operation


def _references(value: Any) -> set[str]:
    """The bulkIds that string values anywhere in `value` name."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if reference := _REFERENCE.match(item):
                found.add(reference[1])
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _resolved(value: Any, ids: Mapping[str, str]) -> Any:
    """`value` with every "bulkId:<id>" string replaced by the id of what that POST created.
    Callers check first that every reference is in `ids`."""
    if isinstance(value, str):
        reference = _REFERENCE.match(value)
        return ids[reference[1]] if reference else value
    if isinstance(value, Mapping):
        return {key: _resolved(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item, ids) for item in value]
    return value


def execution_order(operations: list[Operation]) -> tuple[list[Operation], list[Operation]]:
    """(operations in the order they run, operations in a cycle of bulkId references).
    Request order, except that an operation waits for the POSTs whose bulkIds it names."""
    defines: dict[str, int] = {}
    for op in operations:
        if op.method == "POST" and op.bulk_id:
            defines.setdefault(op.bulk_id, op.index)
    waits_for = {
        op.index: {defines[b] for b in op.references if b in defines} - {op.index}
        for op in operations
    }
    self_referencing = {
        op.index for op in operations if op.bulk_id in op.references and op.method == "POST"
    }
    dependants: dict[int, list[int]] = {op.index: [] for op in operations}
    for index, needs in waits_for.items():
        for need in needs:
            dependants[need].append(index)
    pending = {index: len(needs) for index, needs in waits_for.items()}
    ready = [index for index, count in pending.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for dependant in dependants[index]:
            pending[dependant] -= 1
            if pending[dependant] == 0:
                heapq.heappush(ready, dependant)
    ran = set(order)
    by_index = {op.index: op for op in operations}
    cyclic = [by_index[i] for i in sorted(set(by_index) - ran)]
    ordered = [by_index[i] for i in order]
    # A POST naming its own bulkId is the smallest cycle.
    cyclic += [op for op in ordered if op.index in self_referencing]
    ordered = [op for op in ordered if op.index not in self_referencing]
    return ordered, sorted(cyclic, key=lambda op: op.index)


Perform = Callable[[Operation, str | None, Any], Outcome]
Location = Callable[[str, str], str]
Refuse = Callable[[Operation, ScimError], None]


def run_bulk(
    request: BulkRequest, perform: Perform, location: Location, refuse: Refuse
) -> dict[str, Any]:
    """Run the operations and return the BulkResponse. `perform(operation, target id, data)`
    does one operation (bulkIds resolved) and returns its Outcome, raising ScimError when it
    fails; `location(resource, id)` is a resource's URL; `refuse(operation, error)` is told
    of each operation refused here, before `perform` (a bad operation, an unresolvable or
    circular reference), so the caller can record it as its services record theirs."""
    run = _Run()
    ordered, cyclic = execution_order(request.operations)
    in_cycle = {op.index for op in cyclic}
    for operation in [*ordered, *cyclic]:
        if request.fail_on_errors is not None and run.errors >= request.fail_on_errors:
            break
        error = operation.error
        unresolved = sorted(operation.references - set(run.ids))
        if error is None and operation.index in in_cycle:
            error = UnresolvedReference(
                f"Operations[{operation.index}] is part of a cycle of bulkId references: "
                "create the resources first, then link them with PATCH."
            )
        elif error is None and unresolved:
            error = UnresolvedReference(
                f'"bulkId:{unresolved[0]}" names an operation that failed, so nothing was '
                "created for it."
            )
        if error is not None:
            refuse(operation, error)
            outcome = Outcome(error.status, response=error.body())
        else:
            target = None if operation.target is None else _resolved(operation.target, run.ids)
            try:
                outcome = perform(operation, target, _resolved(operation.data, run.ids))
            except ScimError as failure:
                outcome = Outcome(failure.status, response=failure.body())
        if outcome.status >= 400:
            run.errors += 1
        elif operation.method == "POST" and operation.bulk_id and outcome.resource_id:
            run.ids[operation.bulk_id] = outcome.resource_id
        run.results[operation.index] = _entry(operation, outcome, run.ids, location)
    return {
        "schemas": [BULK_RESPONSE],
        "Operations": [run.results[index] for index in sorted(run.results)],
    }


def _entry(
    operation: Operation, outcome: Outcome, ids: Mapping[str, str], location: Location
) -> dict[str, Any]:
    entry: dict[str, Any] = {"method": operation.method or None}
    if operation.bulk_id:
        entry["bulkId"] = operation.bulk_id
    resource_id = outcome.resource_id
    if resource_id is None and operation.target is not None:
        reference = _REFERENCE.match(operation.target)
        resource_id = ids.get(reference[1]) if reference else operation.target
    if resource_id and operation.resource and outcome.status != 404:
        entry["location"] = location(operation.resource, resource_id)
    if outcome.version:
        entry["version"] = outcome.version
    entry["status"] = str(outcome.status)
    if outcome.response is not None:
        entry["response"] = outcome.response
    return {key: value for key, value in entry.items() if value is not None}
