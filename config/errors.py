"""The last-resort error handler (handler500) of both URLconfs, and the SCIM error response
that code running outside the SCIM views (middleware, this handler) answers with.

Django calls the handler for any exception no view handled, including those raised by middleware
(the company lookup in routing, the session save). A database that cannot be reached is not
a bug: it is a 503 the client should retry, with a SCIM error body on the SCIM API (identity
providers parse it) and a readable page in the portal.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from scim_protocol.errors import ServiceUnavailable, error_body

RETRY_AFTER_SECONDS = 5


# SQLSTATEs after which the same request, retried, should work: the connection is gone
# (class 08), the server is shutting down (57P01-57P03), the transaction lost a deadlock or
# serialization race (40001, 40P01), or the server is overloaded: too many connections
# (53300; pgbouncer relays it mid-request with its SQLSTATE) or out of memory (53200).
# Disk full (53100) is not: it needs an operator, and a retry only fills the log.
_RETRYABLE_STATES = ("08", "57P01", "57P02", "57P03", "40001", "40P01", "53300", "53200")


def database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` means "the database cannot serve this right now" (a 503 to retry)
    rather than a bug (a 500): a lost or refused connection, a server shutting down or out of
    connections or memory, a deadlock. Other OperationalErrors (disk full, statement
    cancelled …) stay 500s."""
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    state = getattr(error.__cause__, "sqlstate", None)
    # No SQLSTATE: psycopg could not reach the server or lost it mid-query.
    return state is None or state.startswith(_RETRYABLE_STATES)


def is_scim_path(path: str) -> bool:
    """Whether `path` is on a company's SCIM API, whose clients expect SCIM error bodies."""
    return "/scim/v2" in path


def scim_error_response(status: int, detail: str, scim_type: str | None = None) -> JsonResponse:
    """A SCIM Error (RFC 7644 §3.12) for answers given outside the SCIM views."""
    return JsonResponse(
        error_body(status, detail, scim_type), status=status, content_type="application/scim+json"
    )


def server_error(request: HttpRequest) -> HttpResponse:
    unavailable = database_unavailable(sys.exc_info()[1])
    if is_scim_path(request.path):
        status = 503 if unavailable else 500
        detail = (
            ServiceUnavailable.default_detail
            if unavailable
            else "Internal error. Quote request id "
            f"{getattr(request, 'request_id', '-')} to support."
        )
        response: HttpResponse = scim_error_response(status, detail)
    elif unavailable:
        # No request context: the context processors would query the database again.
        response = HttpResponse(render_to_string("503.html"), status=503)
    else:
        return defaults.server_error(request)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
