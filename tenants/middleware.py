"""Resolve the company from `/t/<slug>/` once per request, and fail closed."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.template.loader import render_to_string
from django_tenants.middleware.subfolder import TenantSubfolderMiddleware

HEALTH_PATH = "/healthz"
SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class CompanyRoutingMiddleware(TenantSubfolderMiddleware):
    """django-tenants' subfolder routing: `/t/<slug>/…` runs in that company's schema, anything
    else in `public`. An unknown slug is a 404 and never falls back to another schema; on the
    SCIM API the 404 has a SCIM error body, since identity providers parse it."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if request.path == HEALTH_PATH:
            # The health check must answer (503) even when the database that routing reads is
            # down, so it skips routing: it needs no company.
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            return None
        return super().process_request(request)

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        if "/scim/v2" in request.path:
            return JsonResponse(
                {
                    "schemas": [SCIM_ERROR_SCHEMA],
                    "status": "404",
                    "detail": "No company is served at this URL. Check the SCIM base URL.",
                },
                status=404,
                content_type="application/scim+json",
            )
        # A response, not Http404: the 404 handler would run before sessions exist.
        return HttpResponseNotFound(render_to_string("portal/unknown_company.html"))
