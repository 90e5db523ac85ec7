"""Resolve the company from `/t/<slug>/` once per request, and fail closed."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection as django_connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.template.loader import render_to_string
from django.urls import clear_url_caches, set_urlconf
from django_tenants.middleware.subfolder import TenantSubfolderMiddleware
from django_tenants.urlresolvers import get_subfolder_urlconf
from django_tenants.utils import get_public_schema_name, get_tenant_domain_model, get_tenant_model

from infra.scim_edge import is_scim_path, scim_error_response
from tenants.health import HEALTH_PATHS

# django-tenants adds set_tenant/set_schema_to_public to the connection, and `tenant` and a
# module `urlconf` to the request; neither is in Django's type stubs.
connection: Any = django_connection
# One URLconf module per company slug, reused across requests so URL resolution is not
# rebuilt on every request; bounded, and Django's resolver caches are dropped with it.
MAX_CACHED_URLCONFS = 4096
_urlconfs: dict[str, ModuleType] = {}


class CompanyRoutingMiddleware(TenantSubfolderMiddleware):
    """django-tenants' subfolder routing: `/t/<slug>/…` runs in that company's schema, anything
    else in `public`. An unknown slug is a 404 and never falls back to another schema; on the
    SCIM API errors have a SCIM body, since identity providers parse it.

    Differs from the parent in three ways: the company is looked up without switching to
    `public` first (company_for_route), the per-company URLconf is cached instead of rebuilt
    (and every URL cache cleared) on each request, and a bad Host header is a clean 400."""

    def process_request(self, http_request: HttpRequest) -> HttpResponse | None:
        request: Any = http_request
        if request.path in HEALTH_PATHS:
            # Health checks must answer (503) even when the database that routing reads is
            # down, so they skip routing: they need no company.
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            return None
        if hasattr(request, "tenant"):
            return None
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            if is_scim_path(request.path):
                return scim_error_response(400, "This host name is not served here.")
            return HttpResponseBadRequest("This host name is not served here.")
        prefix = f"/{settings.TENANT_SUBFOLDER_PREFIX}/"
        if not request.path.startswith(prefix):
            connection.set_schema_to_public()
            tenant = get_tenant_model().objects.get(schema_name=get_public_schema_name())
            self.setup_url_routing(request, force_public=True)
            tenant.domain_url = hostname
            request.tenant = tenant
            connection.set_tenant(tenant)
            return None
        slug = request.path[len(prefix) :].split("/")[0]
        try:
            tenant = company_for_route(slug)
        except Exception:
            # The error page must not run in the company this connection served last.
            connection.set_schema_to_public()
            raise
        if tenant is None:
            connection.set_schema_to_public()
            return self.no_tenant_found(request, slug)
        tenant.domain_subfolder = slug
        tenant.domain_url = hostname
        request.tenant = tenant
        connection.set_tenant(tenant)
        urlconf = _urlconf_for(tenant)
        request.urlconf = urlconf
        set_urlconf(urlconf)  # type: ignore[arg-type]
        return None

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        if is_scim_path(request.path):
            return scim_error_response(
                404, "No company is served at this URL. Check the SCIM base URL."
            )
        # A response, not Http404: the 404 handler would run before sessions exist.
        return HttpResponseNotFound(render_to_string("portal/unknown_company.html"))


def company_for_route(slug: str) -> Any:
    """The company routed at `/t/<slug>/`, or None. The tables are named with their schema,
    so the lookup is right whichever company the connection served last; that spares the
    two `SET search_path` a switch to `public` and back would cost (tenants/postgresql_backend)
    when the next request is for the same company, as an identity provider's are.

    One statement, read with a plain cursor and turned into a Company with the columns and
    converters worked out once per process (_RouteSelect): `Model.objects.raw()` works them
    out again on every call, which was a fifth of the Python instructions of an authenticated
    empty SCIM request (docs/performance.md)."""
    select = _RouteSelect.get()
    with connection.cursor() as cursor:
        cursor.execute(select.sql, [slug])
        row = cursor.fetchone()
    return None if row is None else select.company(row)


class _RouteSelect:
    """The route lookup's SQL, the Company fields it reads in order, and each field's
    converters from database values (those a queryset would apply: JSON, for instance)."""

    _built: _RouteSelect | None = None

    def __init__(self) -> None:
        company_model, domain_model = get_tenant_model(), get_tenant_domain_model()
        public = get_public_schema_name()
        company_table = f'"{public}"."{company_model._meta.db_table}"'
        domain_table = f'"{public}"."{domain_model._meta.db_table}"'
        company_column = domain_model._meta.get_field("tenant").column
        fields = company_model._meta.concrete_fields
        columns = ", ".join(f'company."{field.column}"' for field in fields)
        self.model = company_model
        self.sql = (
            f"SELECT {columns} FROM {company_table} company "  # noqa: S608 - names, not input
            f'JOIN {domain_table} route ON route."{company_column}" = company.id '
            "WHERE route.domain = %s"
        )
        self.attnames = [field.attname for field in fields]
        self.converters = []
        for field in fields:
            column = field.get_col(company_model._meta.db_table)
            found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            self.converters.append((column, found))

    @classmethod
    def get(cls) -> _RouteSelect:
        if cls._built is None:
            cls._built = cls()
        return cls._built

    def company(self, row: tuple[Any, ...]) -> Any:
        values = list(row)
        for i, (column, converters) in enumerate(self.converters):
            for convert in converters:
                values[i] = convert(values[i], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


def _urlconf_for(tenant: object) -> ModuleType:
    slug = tenant.domain_subfolder  # type: ignore[attr-defined]
    urlconf = _urlconfs.get(slug)
    if urlconf is None:
        if len(_urlconfs) >= MAX_CACHED_URLCONFS:
            _urlconfs.clear()
            clear_url_caches()
        urlconf = _urlconfs[slug] = get_subfolder_urlconf(tenant)
    return urlconf
