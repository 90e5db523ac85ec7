"""Writing the provisioning ledger. Succeeded writes are recorded inside the write's own
transaction; failures after it rolled back, so the record survives the rollback."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from directory.models import ProvisioningEvent
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

        def text(key: str) -> str:
            value = next((v for k, v in data.items() if str(k).lower() == key.lower()), "")
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
    """`warnings`: the optional values the write left out (shown in the portal's log);
    `normalised`: what Headcount read in the caller's dialect (scim_protocol.readings);
    `detail`: what the write did when the operation alone does not say (a DELETE that kept
    the user)."""
    ProvisioningEvent.objects.create(
        **_row(operation, subject, context),
        outcome=ProvisioningEvent.Outcome.SUCCEEDED,
        status=status,
        # A write Headcount made itself says why (context.note: "Provisioned from the waitlist").
        detail=" ".join(part for part in (context.note, detail) if part)[:2000],
        warnings=[warning.as_json() for warning in warnings] or None,
        normalised=[reading.as_json() for reading in normalised] or None,
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
    """The ledger row of one write in progress; the service names what it touched."""

    def __init__(self, operation: str, subject: Subject, context: CallContext):
        self.operation, self.subject, self.context = operation, subject, context

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
        ledger_success(
            self.operation,
            subject,
            self.context,
            status,
            warnings=warnings,
            normalised=normalised,
            detail=detail,
        )


@contextmanager
def recorded(
    operation: str, subject: Subject, context: CallContext, payload: Any = None
) -> Iterator[LedgerEntry]:
    """Run a write in one transaction, recorded in the ledger: the success row inside the
    transaction (call `entry.succeeded`), a failure row (with the redacted `payload`) after
    the rollback. An error's `after_rollback` callables (what a refusal must remember: a
    waitlist entry, a tripped brake) run in the failure row's transaction."""
    entry = LedgerEntry(operation, subject, context)
    try:
        with transaction.atomic():
            yield entry
    except ScimError as error:
        with transaction.atomic():
            ledger_failure(operation, entry.subject, context, error, payload)
            for remember in getattr(error, "after_rollback", ()):
                remember()
        raise
