"""One exception handler for the SCIM API: every failure leaves as a SCIM Error body."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from infra.db_errors import database_unavailable, unavailable
from infra.refusals import refusal_mark
from scim_protocol import errors

logger = logging.getLogger(__name__)


def _to_scim_error(exc: Exception) -> errors.ScimError | None:
    if isinstance(exc, errors.ScimError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return errors.PayloadTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes."
        )
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return errors.NotAuthenticated(str(exc.detail))
    if isinstance(exc, drf.ParseError):
        return errors.InvalidSyntax(f"The request body is not valid JSON: {exc.detail}")
    if isinstance(exc, drf.UnsupportedMediaType):
        return errors.UnsupportedMediaType(
            f"{exc.detail} Send the body as application/scim+json or application/json."
        )
    if isinstance(exc, drf.MethodNotAllowed):
        return errors.MethodNotAllowed(str(exc.detail))
    if isinstance(exc, drf.NotFound | Http404):
        return errors.NotFound()
    if isinstance(exc, drf.PermissionDenied | PermissionDenied):
        return errors.Forbidden()
    if isinstance(exc, drf.Throttled):
        wait = getattr(exc, "wait", None)
        headers = {"Retry-After": str(int(wait) + 1)} if wait is not None else {}
        return errors.TooManyRequests(headers=headers)
    # A statement stopped by the statement timeout arrives as TimedOut already
    # (ScimView.handle_exception, so that the company's tally names it).
    if database_unavailable(exc):
        # The database is away (restarting, failing over) or lost a race: retry, not a bug.
        # Logged all the same, so an outage shows in the log with its cause.
        logger.warning("Database unavailable: answering 503 (%s)", exc, exc_info=True)
        return unavailable()
    if isinstance(exc, drf.APIException):
        return errors.ScimError.with_status(exc.status_code, str(exc.detail))
    return None


def scim_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    error = _to_scim_error(exc)
    if error is None:
        request = context.get("request")
        request_id = getattr(request, "request_id", "-")
        # No internals in the body: the request id lets support find the traceback in the log.
        logger.exception("Unhandled error in SCIM API (request id %s)", request_id)
        error = errors.ScimError.with_status(
            500, f"Internal error. Quote request id {request_id} to support."
        )
    elif error.deliberate and error.status >= 500:
        _log_refusal(context.get("request"), error)
    headers = dict(error.headers)
    if error.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="SCIM", Basic realm="SCIM"')
    return Response(error.body(), status=error.status, headers=headers)


def _log_refusal(request: Any, error: errors.ScimError) -> None:
    """One warning naming the company for a 5xx answered on purpose, in place of the ERROR
    line Django would write for it (infra/refusals.py)."""
    http_request = getattr(request, "_request", request)  # DRF's Request wraps Django's
    tenant = getattr(http_request, "tenant", None)
    # The method and path (not the query: a filter may quote someone) say which request, so
    # a costly one that timed out can be found and reproduced.
    logger.warning(
        "%s at %s: %s (%s %s, request id %s)",
        type(error).__name__,
        getattr(tenant, "schema_name", "-"),
        error.detail,
        getattr(http_request, "method", "-"),
        getattr(http_request, "path", "-"),
        getattr(http_request, "request_id", "-"),
    )
    if http_request is not None:
        refusal_mark(http_request, error.status)
