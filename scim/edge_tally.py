"""SCIM requests refused at the request edge (infra/request_edge.py: a NUL or invalid UTF-8),
counted in the company's request tallies like every other refusal (directory/traffic.py).

The edge answers before routing, so the company is looked up here, from the `/t/<slug>/`
of the path, and only for a request the edge refused: the hot path pays nothing. A request
for a slug no company has stays in the access log only: there is no company to count it for
(docs/security.md). Refusals after routing (413 for a body over MAX_REQUEST_BYTES, 404 for an
unknown SCIM endpoint) are answered by the SCIM views and counted there.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_tenants.utils import schema_context

from directory import traffic
from infra.scim_edge import is_scim_path
from tenants.middleware import company_for_route


def _storable(text: str) -> str:
    """`text` as PostgreSQL can store it: the NUL and lone surrogates that got it refused
    are replaced, so the row shows where they were."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


class EdgeRefusalTallyMiddleware:
    """Placed just outside RequestEdgeMiddleware, which marks what it refused."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        detail = getattr(request, "edge_refusal", None)
        if detail is not None and is_scim_path(request.path):
            _tally(request, response, detail)
        return response


def _tally(request: HttpRequest, response: HttpResponse, detail: str) -> None:
    prefix = f"/{settings.TENANT_SUBFOLDER_PREFIX}/"
    if not request.path.startswith(prefix):
        return
    slug = request.path[len(prefix) :].split("/")[0]
    if _storable(slug) != slug:
        return  # a slug with a NUL in it names no company
    company = company_for_route(slug)
    if company is None:
        return
    with schema_context(company.schema_name):
        traffic.tally_refusal(
            caller=traffic.Caller(),
            cause=traffic.Cause.FAILED,
            status=response.status_code,
            request=traffic.RequestFacts(
                method=_storable(request.method or ""),
                path=_storable(request.path),
                request_id=_storable(getattr(request, "request_id", "")),
                user_agent=_storable(request.META.get("HTTP_USER_AGENT", "")),
            ),
            detail=detail,
        )
