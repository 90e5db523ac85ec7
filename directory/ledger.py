"""Writing the provisioning ledger. Succeeded writes are recorded inside the write's own
transaction (in the statement of its change events when it has any: one round trip for
both); failures after it rolled back, so the record survives the rollback."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import OperationalError, transaction
from django.utils import timezone

from directory.models import ProvisioningEvent
from events.outbox import Along
from infra.db_errors import statement_timed_out, timed_out
from infra.prepared_query import prepared_cursor
from scim_protocol.errors import ScimError
from scim_protocol.readings import Reading
from scim_protocol.redaction import Redacted, redact_operations, redact_resource, scrub
from scim_protocol.schema import RESOURCE_TYPES, USER, core_unnested
from scim_protocol.user_input import DroppedValue

MAX_STORED_BODY = 32_000  # characters of JSON; larger bodies are not kept
# What is stored instead of a body longer than MAX_STORED_BODY (such a request cannot be
# retried from the log).
TOO_LARGE_TO_KEEP = {"note": "The request body was too large to keep."}
_RESOURCE_TYPES = {resource_type.name: resource_type for resource_type in RESOURCE_TYPES}


@dataclass(frozen=True)
class CallContext:
    """Who is calling, for the ledger: taken from the request by the SCIM views."""

    idp: str = ""
    credential: str = ""
    request_id: str = ""
    # A retry from the log: the ledger row of the failure being replayed (directory/retry.py).
    retry_of: int | None = None
    # Kept in the success row's detail: why Headcount made a write itself ("Provisioned from
    # the waitlist").
    note: str = ""


@dataclass(frozen=True)
class Subject:
    """What the call was about, as far as it is known."""

    resource_type: str
    resource_id: Any = None
    user_name: str = ""
    external_id: str = ""
    display_name: str = ""

    @classmethod
    def from_payload(cls, resource_type: str, payload: Any, resource_id: Any = None) -> Subject:
        schemas = _RESOURCE_TYPES.get(resource_type, USER)
        data = core_unnested(payload, schemas) if isinstance(payload, dict) else {}
        # Attribute names are case-insensitive; the first spelling sent wins.
        by_name: dict[str, Any] = {}
        for key, value in data.items():
            by_name.setdefault(str(key).lower(), value)

        def text(key: str) -> str:
            value = by_name.get(key.lower(), "")
            return str(value)[:255] if isinstance(value, str | int) else ""

        return cls(
            resource_type=resource_type,
            resource_id=resource_id,
            user_name=text("userName"),
            external_id=text("externalId"),
            display_name=text("displayName"),
        )


def redact_request(operation: str, resource_type: str, payload: Any) -> Redacted:
    """The request of a write without its secrets, read as the write reads it: PATCH
    operations or a resource body, against the schemas of `resource_type` ("User", "Group").
    Never store a request body any other way."""
    schemas = _RESOURCE_TYPES.get(resource_type, USER)
    if operation == "patch":
        return redact_operations(payload, schemas)
    return redact_resource(payload, schemas)


def _stored_body(body: Any) -> Any:
    if body is None:
        return None
    if len(json.dumps(body, default=str)) > MAX_STORED_BODY:
        return dict(TOO_LARGE_TO_KEEP)
    return body


def _row(operation: str, subject: Subject, context: CallContext) -> dict[str, Any]:
    return {
        "operation": operation,
        "resource_type": subject.resource_type,
        "resource_id": subject.resource_id,
        "user_name": subject.user_name,
        "external_id": subject.external_id or "",
        "display_name": subject.display_name,
        "idp": context.idp[:200],
        "credential": context.credential[:150],
        "request_id": context.request_id[:64],
        "retry_of_id": context.retry_of,
    }


# The success row as constant SQL: the ORM's INSERT compiled again on every write cost more
# Python than the rest of the ledger. Parameters prefixed, as `Along` asks.
_SUCCESS_SQL = """INSERT INTO directory_provisioningevent (
    created_at, operation, resource_type, resource_id, user_name, external_id, display_name,
    outcome, status, scim_type, detail, idp, credential, request_id, request_body,
    retry_of_id, warnings, normalised
) SELECT
    %(ledger_created_at)s, %(ledger_operation)s, %(ledger_resource_type)s,
    %(ledger_resource_id)s, %(ledger_user_name)s, %(ledger_external_id)s,
    %(ledger_display_name)s, 'succeeded', %(ledger_status)s, '', %(ledger_detail)s,
    %(ledger_idp)s, %(ledger_credential)s, %(ledger_request_id)s, NULL, %(ledger_retry_of_id)s,
    %(ledger_warnings)s::jsonb, %(ledger_normalised)s::jsonb"""


def _json_or_null(values: list[Any]) -> str | None:
    return json.dumps(values) if values else None


def ledger_success(
    operation: str,
    subject: Subject,
    context: CallContext,
    status: int,
    *,
    warnings: Sequence[DroppedValue] = (),
    normalised: Sequence[Reading] = (),
    detail: str = "",
) -> None:
    """Write a success row now (a write outside `recorded`: the portal's waitlist drop)."""
    _execute(
        success_row(
            operation,
            subject,
            context,
            status,
            warnings=warnings,
            normalised=normalised,
            detail=detail,
        )
    )


def _execute(statement: Along) -> None:
    with prepared_cursor() as cursor:
        cursor.execute(statement.sql, statement.params)


def success_row(
    operation: str,
    subject: Subject,
    context: CallContext,
    status: int,
    *,
    warnings: Sequence[DroppedValue] = (),
    normalised: Sequence[Reading] = (),
    detail: str = "",
) -> Along:
    """The success row's INSERT, to run in the write's transaction (on its own, or along
    with the write's change events). `warnings`: the optional values the write left out
    (shown in the portal's log); `normalised`: what Headcount read in the caller's dialect
    (scim_protocol.readings); `detail`: what the write did when the operation alone does not
    say (a DELETE that kept the user)."""
    row = _row(operation, subject, context)
    return Along(
        _SUCCESS_SQL,
        {
            **{f"ledger_{column}": value for column, value in row.items()},
            "ledger_created_at": timezone.now(),
            "ledger_status": status,
            # A write Headcount made itself says why (context.note: "Provisioned from the
            # waitlist").
            "ledger_detail": " ".join(part for part in (context.note, detail) if part)[:2000],
            "ledger_warnings": _json_or_null([warning.as_json() for warning in warnings]),
            "ledger_normalised": _json_or_null([reading.as_json() for reading in normalised]),
        },
    )


def ledger_failure(
    operation: str, subject: Subject, context: CallContext, error: ScimError, payload: Any = None
) -> None:
    request = redact_request(operation, subject.resource_type, payload)
    ProvisioningEvent.objects.create(
        **_row(operation, subject, context),
        outcome=getattr(error, "ledger_outcome", ProvisioningEvent.Outcome.FAILED),
        status=error.status,
        scim_type=error.scim_type or "",
        # The message may quote the request (a path it could not parse): not its secrets.
        detail=scrub(error.detail, request.secrets)[:2000],
        request_body=_stored_body(request.body),
    )


class LedgerEntry:
    """The ledger row of one write in progress; the service names what it touched. Its
    success row waits for the write's change events (`take_success`) and is written on its
    own at the end of the transaction when none took it."""

    def __init__(self, operation: str, subject: Subject, context: CallContext):
        self.operation, self.subject, self.context = operation, subject, context
        self._success: Along | None = None

    def succeeded(
        self,
        subject: Subject,
        status: int,
        *,
        warnings: Sequence[DroppedValue] = (),
        normalised: Sequence[Reading] = (),
        detail: str = "",
    ) -> None:
        self.subject = subject
        self.succeeding(subject, status, warnings=warnings, normalised=normalised, detail=detail)

    def succeeding(
        self,
        subject: Subject,
        status: int,
        *,
        warnings: Sequence[DroppedValue] = (),
        normalised: Sequence[Reading] = (),
        detail: str = "",
    ) -> None:
        """`succeeded`, said before the write's own statements run, so that its row is built
        before the write takes its hot locks: a failure after it is still recorded with the
        subject the call was about (a refused create has no id)."""
        self._success = success_row(
            self.operation,
            subject,
            self.context,
            status,
            warnings=warnings,
            normalised=normalised,
            detail=detail,
        )

    def take_success(self) -> Along | None:
        """The success row's INSERT, if `succeeded` was called, for the caller to run (in
        the events' statement); the entry then no longer writes it."""
        success, self._success = self._success, None
        return success

    def flush(self) -> None:
        """Write the success row if nobody took it."""
        if (success := self.take_success()) is not None:
            _execute(success)


@contextmanager
def recorded(
    operation: str, subject: Subject, context: CallContext, payload: Any = None
) -> Iterator[LedgerEntry]:
    """Run a write in one transaction, recorded in the ledger: the success row inside the
    transaction (call `entry.succeeded`; written with the change events that take it, or
    last), a failure row (with the redacted `payload`) after the rollback. An error's
    `after_rollback` callables (what a refusal must remember: a waitlist entry, a tripped
    brake) run in the failure row's transaction."""
    entry = LedgerEntry(operation, subject, context)
    try:
        with transaction.atomic():
            yield entry
            entry.flush()
    except ScimError as error:
        with transaction.atomic():
            ledger_failure(operation, entry.subject, context, error, payload)
            for remember in getattr(error, "after_rollback", ()):
                remember()
        raise
    except OperationalError as error:
        if not statement_timed_out(error):
            raise
        # Stopped by the web server's statement timeout: a refusal like any other, in the
        # log with its request (retried from there once the cause is gone).
        refusal = timed_out()
        with transaction.atomic():
            ledger_failure(operation, entry.subject, context, refusal, payload)
        raise refusal from error
