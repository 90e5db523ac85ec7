"""POST /Bulk (RFC 7644 §3.7). The protocol (limits, bulkId references, order, failOnErrors)
is scim_protocol/bulk.py; here each operation goes to the same service as its single
endpoint, in its own transaction, with its own ledger row and request id
("<request id>#<operation number>")."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from directory import groups, services, traffic
from directory.ledger import CallContext, Subject, ledger_failure
from directory.selectors import parse_member_id
from infra.client_ip import client_ip
from infra.db_errors import RETRY_AFTER_SECONDS, database_refusal
from scim import throttling
from scim.views_base import ScimView, call_context, company_of, json_body, scim_base
from scim_protocol import errors
from scim_protocol.bulk import (
    Operation,
    Outcome,
    check_payload_size,
    parse_bulk_request,
    run_bulk,
)
from scim_protocol.errors import BulkTooLarge
from scim_protocol.patch import validate_patch_request
from scim_protocol.user_resource import etag
from tenants.rate_limits import company_limit, credential_limit

logger = logging.getLogger(__name__)

_LEDGER_OPERATION = {"POST": "create", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}


def _failure(error: errors.ScimError) -> traffic.Failure:
    # As a single request's tally keeps it: the text only of a 403, a refusal in Headcount's
    # own words; any other may quote the request.
    return traffic.Failure(error.status, error.code, error.detail if error.status == 403 else "")


class BulkView(ScimView):
    def post(self, request: Request) -> Response:
        # Read by ScimView.finalize_response, which tallies them as the company's failures.
        self.operations_failed: list[traffic.Failure] = []
        self.operations_succeeded = 0
        # Before the body is parsed: a body over maxPayloadSize costs no JSON parsing.
        declared = str(request.META.get("CONTENT_LENGTH") or "0")
        check_payload_size(int(declared) if declared.isdigit() else 0)
        check_payload_size(len(request.body))
        bulk = parse_bulk_request(json_body(request))
        company = company_of(request)
        # Limits of 0 or less are unlimited (infra/ratelimit.py).
        budgets = [limit for limit in (company_limit(company), credential_limit()) if limit > 0]
        fits = min(budgets, default=len(bulk.operations))
        if len(bulk.operations) > fits:
            # More writes than a minute's budget holds could never be admitted: a 429 would
            # be retried forever. Say how many fit instead.
            raise BulkTooLarge(
                f"This bulk request has {len(bulk.operations)} operations; this company's rate "
                f"limits admit at most {fits} per minute. Split it into requests of at most "
                f"{fits} operations."
            )
        if len(bulk.operations) > 1 and request.auth is not None:
            # Each operation is a write the rate limits count; authentication counted one.
            throttling.admit(
                company,
                str(request.auth.pk),
                client_ip(request),
                cost=len(bulk.operations) - 1,
            )
        context = call_context(request)
        base = scim_base(request)

        def own_context(operation: Operation) -> CallContext:
            # Each operation's ledger row gets its own request id, findable from the bulk's.
            own_id = f"{context.request_id[:58]}#{operation.index + 1}"
            return dataclasses.replace(context, request_id=own_id)

        # The first operation the database could not serve (gone, or a statement stopped by
        # the statement timeout): the rest are answered 503 untried, since each would wait
        # its own connect or statement timeout and the bulk would outrun the web server's.
        refused_by_database: list[int] = []

        def perform(operation: Operation, target: str | None, data: Any) -> Outcome:
            if refused_by_database:
                untried = _untried_after(refused_by_database[0])
                self.operations_failed.append(_failure(untried))
                raise untried
            try:
                outcome = _perform(request, operation, target, data, own_context(operation))
            except errors.ScimError as error:
                self.operations_failed.append(_failure(error))
                raise
            except Exception as error:
                away = database_refusal(error)
                if away is not None:
                    # Stopped by the statement timeout, or the database away: not broken, the
                    # IdP retries the operation when told so.
                    logger.warning("Bulk operation %s not done: %s", operation.index + 1, error)
                    refused_by_database.append(operation.index)
                    self.operations_failed.append(_failure(away))
                    raise away from None
                # One broken operation must not lose the results of those already done.
                logger.exception(
                    "Unhandled error in bulk operation %s (request id %s)",
                    operation.index + 1,
                    context.request_id,
                )
                failure = errors.ScimError.with_status(
                    500, f"Internal error. Quote request id {context.request_id} to support."
                )
                self.operations_failed.append(_failure(failure))
                raise failure from None
            self.operations_succeeded += 1
            return outcome

        def refuse(operation: Operation, error: errors.ScimError) -> None:
            self.operations_failed.append(_failure(error))
            if refused_by_database:
                # Its ledger row would wait on the database that could not serve an earlier
                # operation, and fail the whole bulk with it; its answer says why all the same.
                logger.warning(
                    "Bulk operation %s refused (%s); no ledger row: the database could not "
                    "serve operation %s",
                    operation.index + 1,
                    error.status,
                    refused_by_database[0] + 1,
                )
                return
            _refused(operation, error, own_context(operation))

        body = run_bulk(
            bulk,
            perform,
            location=lambda resource, resource_id: f"{base}/{resource}/{resource_id}",
            refuse=refuse,
        )
        return Response(body, status=200)


def _refused(operation: Operation, error: errors.ScimError, context: CallContext) -> None:
    """The ledger row of an operation refused before its service ran: every operation of a
    bulk request leaves one, as every single write does."""
    resource_type = "Group" if operation.resource == "Groups" else "User"
    ledger_failure(
        _LEDGER_OPERATION.get(operation.method, "bulk"),
        # The id the operation's path names, so its log entry says which resource it was
        # about (None for a bulkId reference, whose resource does not exist yet).
        Subject.from_payload(
            resource_type, operation.data, parse_member_id(operation.target or "")
        ),
        context,
        error,
        # A PatchOp body that failed its own check is not the operations list redaction reads.
        operation.data if operation.method != "PATCH" else None,
    )


def _patch_operations(operation: Operation, data: Any, context: CallContext) -> list[Any]:
    try:
        return validate_patch_request(data)
    except errors.ScimError as error:
        _refused(operation, error, context)
        raise


def _untried_after(index: int) -> errors.ServiceUnavailable:
    """The answer to a bulk operation not tried because the database could not serve an
    earlier one (`index`, counted from 0 as in the request): a 503 to retry."""
    return errors.ServiceUnavailable(
        f"Not tried: the database could not serve Operations[{index}] of this request. "
        "Retry this operation later.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _perform(
    request: Request, operation: Operation, target: str | None, data: Any, context: CallContext
) -> Outcome:
    """One operation through the service its single endpoint calls."""
    if_match = operation.version
    company = company_of(request)
    if operation.resource == "Users":
        if operation.method == "POST":
            member = services.member_create(company=company, payload=data, context=context)
            return Outcome(201, str(member.id), etag(member.version))
        if operation.method == "DELETE":
            services.member_delete(
                company=company, member_id=str(target), context=context, if_match=if_match
            )
            return Outcome(204)
        if operation.method == "PUT":
            found = services.member_replace(
                company=company,
                member_id=str(target),
                payload=data,
                context=context,
                if_match=if_match,
            )
        else:
            found = services.member_patch(
                company=company,
                member_id=str(target),
                operations=_patch_operations(operation, data, context),
                context=context,
                if_match=if_match,
            )
        return Outcome(200, str(found.member.id), etag(found.member.version))
    if operation.method == "POST":
        group = groups.group_create(payload=data, context=context)
        return Outcome(201, str(group.id), etag(group.version))
    if operation.method == "DELETE":
        groups.group_delete(group_id=str(target), context=context, if_match=if_match)
        return Outcome(204)
    if operation.method == "PUT":
        group = groups.group_replace(
            group_id=str(target), payload=data, context=context, if_match=if_match
        )
    else:
        group = groups.group_patch(
            group_id=str(target),
            operations=_patch_operations(operation, data, context),
            context=context,
            if_match=if_match,
        )
    return Outcome(200, str(group.id), etag(group.version))
