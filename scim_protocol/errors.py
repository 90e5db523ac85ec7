"""SCIM errors (RFC 7644 §3.12): small exception classes with a stable status and scimType.

Domain code raises these; `scim.exceptions.scim_exception_handler` turns them, and DRF's own
errors, into the SCIM Error body.
"""

from __future__ import annotations

from typing import Any, ClassVar

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    status: int = 400
    scim_type: str | None = None
    default_detail = "The request could not be processed."
    # A 5xx answered on purpose (a policy holding the request, not a fault): logged as a
    # warning, not as a server error.
    deliberate: bool = False
    # A stable name of the error, where callers must tell apart errors of one status (the
    # 403s: a seat limit, a read-only token, SCIM off, a suspension). Kept with the company's
    # request tallies, so the portal diagnoses the refusal that happened.
    code: ClassVar[str] = ""

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        super().__init__(self.detail)

    @classmethod
    def with_status(cls, status: int, detail: str) -> ScimError:
        """An error with no scimType of its own (500, 406 …)."""
        error = cls(detail)
        error.status = status
        return error

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.detail, self.scim_type)


def error_body(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    # A detail may quote client input; keep it encodable whatever the client sent.
    safe = detail.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": safe}
    if scim_type:
        body["scimType"] = scim_type
    return body


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"
    default_detail = "The filter is not valid."


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"
    default_detail = "The request body is not valid SCIM."


class InvalidPath(ScimError):
    scim_type = "invalidPath"
    default_detail = "The PATCH path is not valid."


class NoTarget(ScimError):
    scim_type = "noTarget"
    default_detail = "The PATCH path matched nothing."


class InvalidValue(ScimError):
    scim_type = "invalidValue"
    default_detail = "A value in the request is not valid."


class Mutability(ScimError):
    scim_type = "mutability"
    default_detail = "The request tried to change an attribute that cannot be changed."


class TooMany(ScimError):
    scim_type = "tooMany"
    default_detail = "The request would return too many results."


class InvalidCursor(ScimError):
    """RFC 9865 §2.1: a cursor this server did not issue for this query."""

    scim_type = "invalidCursor"
    default_detail = "The cursor is not valid: send an empty cursor for the first page."


class ExpiredCursor(ScimError):
    """RFC 9865 §2.1: a cursor older than the advertised cursorTimeout."""

    scim_type = "expiredCursor"
    default_detail = "The cursor has expired: start again with an empty cursor."


class Uniqueness(ScimError):
    status = 409
    scim_type = "uniqueness"
    default_detail = "A resource with that unique value already exists."


class UnresolvedReference(ScimError):
    """409 (RFC 7644 §3.7.1): a bulkId reference to an operation that failed, or a cycle."""

    status = 409
    default_detail = "A bulkId reference could not be resolved."


class NotAuthenticated(ScimError):
    status = 401
    default_detail = "Authentication required: send a Bearer token or Basic credentials."


class ProvisioningDisabled(ScimError):
    status = 403
    code: ClassVar[str] = "scim_off"
    default_detail = "SCIM provisioning is not active for this company. Contact support."


class CompanySuspended(ProvisioningDisabled):
    code: ClassVar[str] = "suspended"
    default_detail = "This company is suspended. Contact support to restore access."


class Forbidden(ScimError):
    status = 403
    code: ClassVar[str] = "forbidden"
    default_detail = "This credential may not do that."


class ReadOnlyCredential(Forbidden):
    code: ClassVar[str] = "read_only"
    default_detail = (
        "This token is read-only: it may read users and groups (GET, POST …/.search) but not "
        "change them. Generate a token with full access for provisioning."
    )


class NotFound(ScimError):
    status = 404
    default_detail = "Resource not found."


class MethodNotAllowed(ScimError):
    status = 405
    default_detail = "Method not allowed on this endpoint."


class PreconditionFailed(ScimError):
    status = 412
    default_detail = "The resource changed since the version given in If-Match."


class PayloadTooLarge(ScimError):
    status = 413
    default_detail = "The request body is too large."


class BulkTooLarge(PayloadTooLarge):
    """A bulk request over maxOperations or maxPayloadSize (RFC 7644 §3.7.4). RFC 7644 gives
    a 413 no scimType; "tooLarge" names the cause for clients that branch on scimType."""

    scim_type = "tooLarge"


class UnsupportedMediaType(ScimError):
    """A body in a media type that is not JSON (HTTP's 415; RFC 7644 names no scimType)."""

    status = 415
    default_detail = "Send the body as application/scim+json or application/json."


class TooManyRequests(ScimError):
    status = 429
    default_detail = "Too many requests. Retry later."


class ServiceUnavailable(ScimError):
    status = 503
    default_detail = "The service is temporarily unavailable. Retry later."


class TimedOut(ServiceUnavailable):
    """A request stopped by the server's statement timeout: a limit, answered on purpose."""

    code: ClassVar[str] = "timed_out"  # directory.diagnosis.TIMED_OUT
    deliberate = True

    def __init__(self, seconds: float, *, headers: dict[str, str] | None = None):
        super().__init__(
            f"The request took longer than this server allows ({seconds:g} s) and was "
            "stopped. Narrow its filter or sort, or retry later.",
            headers=headers,
        )
