"""A request id on every request and response (`X-Request-ID`), so a SCIM error quoted by a
customer can be found in the logs. An id the caller sends (the identity provider, or a proxy in
front) is kept when it looks sane, so its logs and ours name the same request; it is the caller's
word, not a unique key: a caller that reuses one shares it between its requests' ledger rows."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # From META: `request.headers` would build a mapping of every header on each request.
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
