"""One error body for the whole vendor API: {"error": {"status", "code", "message"}}."""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from infra.db_errors import (
    RETRY_AFTER_SECONDS,
    database_unavailable,
    statement_timed_out,
    timed_out,
)

logger = logging.getLogger(__name__)


class BadParameter(drf.ValidationError):
    """A query parameter the API cannot use (a cursor, a limit)."""


class UnknownResource(drf.NotFound):
    """No such company, member or group."""


class CursorExpired(drf.APIException):
    """Events after the cursor were dropped by retention: the consumer must re-read the
    directory before it goes on (docs/integrate.md)."""

    status_code = 410
    default_code = "cursor_expired"


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message}}


def unknown_path(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any /api/v1/ path the API does not have, as the API's own error body (not the
    site's HTML page), whatever the credentials."""
    return JsonResponse(
        error_body(404, "not_found", f"The vendor API has no {request.path!r}."), status=404
    )


def _message(detail: Any) -> str:
    if isinstance(detail, list):
        return " ".join(_message(item) for item in detail)
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_message(value)}" for key, value in detail.items())
    return str(detail)


def vendor_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every failure of the vendor API, DRF's own included, as the one error body; anything
    unexpected is a 500 without internals (logged), a database outage a 503 to retry."""
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    if isinstance(exc, drf.APIException):
        code = {
            BadParameter: "invalid_parameter",
            UnknownResource: "not_found",
            CursorExpired: "cursor_expired",
        }.get(type(exc)) or str(exc.default_code)
        headers = {}
        if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
            code = "not_authenticated"
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        return Response(
            error_body(exc.status_code, code, _message(exc.detail)),
            status=exc.status_code,
            headers=headers,
        )
    if statement_timed_out(exc):
        return Response(
            error_body(503, "timed_out", timed_out().detail),
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if database_unavailable(exc):
        return Response(
            error_body(503, "unavailable", "The database is unavailable; retry shortly."),
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    logger.exception("Unexpected error in the vendor API")
    return Response(
        error_body(500, "server_error", "Something went wrong on our side."), status=500
    )
