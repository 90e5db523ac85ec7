"""The last-resort error handler (handler500) of both URLconfs.

Django calls it for any exception no view handled, including those raised by middleware
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

from scim.errors import ServiceUnavailable, error_body

RETRY_AFTER_SECONDS = 5


def database_unavailable(error: BaseException | None) -> bool:
    return isinstance(error, OperationalError | InterfaceError)


def server_error(request: HttpRequest) -> HttpResponse:
    unavailable = database_unavailable(sys.exc_info()[1])
    if "/scim/v2" in request.path:
        status = 503 if unavailable else 500
        detail = (
            ServiceUnavailable.default_detail
            if unavailable
            else "Internal error. Quote request id "
            f"{getattr(request, 'request_id', '-')} to support."
        )
        response: HttpResponse = JsonResponse(
            error_body(status, detail), status=status, content_type="application/scim+json"
        )
    elif unavailable:
        # No request context: the context processors would query the database again.
        response = HttpResponse(render_to_string("503.html"), status=503)
    else:
        return defaults.server_error(request)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
