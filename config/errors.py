"""The last-resort error handler (handler500) of both URLconfs. The SCIM error response it
shares with middleware is infra/scim_edge.py; which database errors are 503s, infra/db_errors.py.

Django calls the handler for any exception no view handled, including those raised by middleware
(the company lookup in routing, the session save). A database that cannot be reached is not
a bug: it is a 503 the client should retry, with a SCIM error body on the SCIM API (identity
providers parse it) and a readable page in the portal. So is a statement stopped by the
statement timeout (DB_STATEMENT_TIMEOUT_SECONDS), which says so.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

from infra.db_errors import database_refusal
from infra.scim_edge import is_scim_path, scim_error_response
from scim_protocol.errors import TimedOut


def server_error(request: HttpRequest) -> HttpResponse:
    refusal = database_refusal(sys.exc_info()[1])
    if is_scim_path(request.path):
        if refusal is not None:
            response: HttpResponse = scim_error_response(refusal.status, refusal.detail)
        else:
            response = scim_error_response(
                500,
                f"Internal error. Quote request id {getattr(request, 'request_id', '-')} "
                "to support.",
            )
    elif refusal is not None:
        # No request context: the context processors would query the database again.
        response = HttpResponse(
            render_to_string(
                "503.html",
                {
                    "timed_out": isinstance(refusal, TimedOut),
                    "seconds": settings.DB_STATEMENT_TIMEOUT_SECONDS,
                },
            ),
            status=503,
        )
    else:
        return defaults.server_error(request)
    if refusal is not None:  # a bug's 500 is not retried on our word
        for name, value in refusal.headers.items():
            response[name] = value
    return response
