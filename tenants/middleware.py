"""Resolve the company from `/t/<slug>/` once per request, and fail closed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import ProgrammingError
from django.db import connection as django_connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.template.loader import render_to_string
from django.urls import clear_url_caches, set_urlconf
from django_tenants.middleware.subfolder import TenantSubfolderMiddleware
from django_tenants.urlresolvers import get_subfolder_urlconf
from django_tenants.utils import get_public_schema_name, get_tenant_domain_model, get_tenant_model
from psycopg.errors import InvalidSchemaName, UndefinedTable

from infra.model_rows import ModelRows
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
            tenant = connection.first_read(
                lambda: get_tenant_model().objects.get(schema_name=get_public_schema_name())
            )
            self.setup_url_routing(request, force_public=True)
            tenant.domain_url = hostname
            request.tenant = tenant
            connection.set_tenant(tenant)
            return None
        slug = request.path[len(prefix) :].split("/")[0]
        read = _route_read_for(request, slug)
        try:
            # The request's first statement: it also checks the kept database connection.
            tenant = connection.first_read(lambda: company_for_route(slug, read))
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


class RouteRead(Protocol):
    """A read of at most one row from the routed company's own tables that a request needs
    right after routing (the SCIM API's credential), made by the route's own statement: one
    round trip for both. Routing does not know what it reads; the interface that needs it
    registers a provider (register_route_read) that builds one from the request."""

    @property
    def width(self) -> int:
        """How many columns `sql` selects."""
        ...

    @property
    def params(self) -> Sequence[object]:
        """The parameters of `sql`, in order."""
        ...

    def sql(self, schema: str) -> str:
        """A SELECT of `width` columns and at most one row, naming the tables of `schema`
        (a quoted identifier) explicitly. Its first column is never NULL in a row it finds
        (a primary key, say): the joined statement's NULL there means it found none."""
        ...

    def receive(self, row: tuple[Any, ...] | None) -> None:
        """The row read in the routed company's own schema (None when none matched). Never
        called when the read did not run, or ran in a schema that turned out not to be the
        company's: the provider's interface then reads it itself."""
        ...


RouteReadProvider = Callable[[HttpRequest], RouteRead | None]
_providers: list[tuple[str, RouteReadProvider]] = []


def register_route_read(path_part: str, provider: RouteReadProvider) -> None:
    """Have `provider(request)` say what to read with the route for company paths whose part
    after `/t/<slug>` starts with `path_part` (e.g. "/scim/v2/"). Called once, at start-up."""
    _providers.append((path_part, provider))


def _route_read_for(request: HttpRequest, slug: str) -> RouteRead | None:
    rest = request.path[len(settings.TENANT_SUBFOLDER_PREFIX) + len(slug) + 2 :]
    for path_part, provider in _providers:
        if rest.startswith(path_part):
            return provider(request)
    return None


# slug → the company's schema name, learned from the route reads of this process. A schema
# name never changes for a company; a slug can move to another company, which the route's
# own statement reveals (it returns the routed company's schema name): the row read from
# the remembered schema is then thrown away and read again from the right one. Bounded.
MAX_REMEMBERED_SCHEMAS = 65536
_schemas: dict[str, str] = {}


def forget_schemas() -> None:
    """Forget every remembered schema (a company of this process was deleted: its schema may
    be gone, and a statement naming it would fail)."""
    _schemas.clear()


def company_for_route(slug: str, read: RouteRead | None = None) -> Any:
    """The company routed at `/t/<slug>/`, or None. The tables are named with their schema,
    so the lookup is right whichever company the connection served last; that spares the
    two `SET search_path` a switch to `public` and back would cost (tenants/postgresql_backend)
    when the next request is for the same company, as an identity provider's are.

    With `read`, and the company's schema known from an earlier request, `read` runs in the
    same statement, in that schema, and gets its row (RouteRead.receive) if the route still
    leads to that schema; otherwise it is not given one. An unknown slug is None whatever
    was remembered: the route decides, never the memory.

    One statement, read with a plain cursor and turned into a Company with the columns and
    converters worked out once per process (_RouteSelect): `Model.objects.raw()` works them
    out again on every call, which was a fifth of the Python instructions of an authenticated
    empty SCIM request (docs/performance.md)."""
    select = _RouteSelect.get()
    schema = _schemas.get(slug) if read is not None else None
    row = None
    if read is not None and schema is not None:
        try:
            row = select.run(slug, read, schema)
        except ProgrammingError as error:
            if not isinstance(error.__cause__, UndefinedTable | InvalidSchemaName):
                raise
            # Deleted by another process (this one forgets at once): learn it again below.
            schema = None
        else:
            if row is not None and row[select.schema_index] != schema:
                # The slug moved to another company since: read again in its schema.
                schema = row[select.schema_index]
                row = select.run(slug, read, schema)
            if row is not None and row[select.schema_index] == schema:
                part = row[select.rows.width :]
                read.receive(None if part[0] is None else part)
    if schema is None:
        row = select.run(slug)
    if row is None:
        _schemas.pop(slug, None)
        return None
    if len(_schemas) >= MAX_REMEMBERED_SCHEMAS:
        _schemas.clear()
    _schemas[slug] = row[select.schema_index]
    return select.rows.instance(row[: select.rows.width])


class _RouteSelect:
    """The route lookup's SQL, and the Company built from its row (infra/model_rows.py)."""

    _built: _RouteSelect | None = None

    def __init__(self) -> None:
        company_model, domain_model = get_tenant_model(), get_tenant_domain_model()
        public = get_public_schema_name()
        company_table = f'"{public}"."{company_model._meta.db_table}"'
        domain_table = f'"{public}"."{domain_model._meta.db_table}"'
        company_column = domain_model._meta.get_field("tenant").column
        self.rows = ModelRows(company_model)
        self.schema_index = self.rows.attnames.index("schema_name")
        self.columns = self.rows.columns("company")
        self.joins = (
            f"FROM {company_table} company "
            f'JOIN {domain_table} route ON route."{company_column}" = company.id '
        )
        self.sql = f"SELECT {self.columns} {self.joins}WHERE route.domain = %s"
        self._companions: dict[str, str] = {}

    def _with(self, companion: str) -> str:
        """The route's statement with `companion` (a RouteRead's SQL) joined, built once per
        companion: formatting the long statement on every request, and hashing each new copy
        (psycopg's statement cache, the cursor's adapters by statement), was a visible share of
        an authenticated request's instructions (docs/performance.md). Bounded as the
        URLconfs are."""
        sql = self._companions.get(companion)
        if sql is None:
            if len(self._companions) >= MAX_CACHED_URLCONFS:
                self._companions.clear()
            sql = self._companions[companion] = (
                f"SELECT {self.columns}, companion.* {self.joins}"
                f"LEFT JOIN LATERAL ({companion}) companion ON true WHERE route.domain = %s"
            )
        return sql

    @classmethod
    def get(cls) -> _RouteSelect:
        if cls._built is None:
            cls._built = cls()
        return cls._built

    def run(
        self, slug: str, read: RouteRead | None = None, schema: str = ""
    ) -> tuple[Any, ...] | None:
        """The route's row for `slug` (with `read`'s columns after the company's, NULL when
        it found nothing), or None."""
        sql = self.sql
        params: list[object] = [slug]
        if read is not None:
            sql = self._with(read.sql(connection.ops.quote_name(schema)))
            params = [*read.params, slug]
        with connection.prepared_cursor() as cursor:
            cursor.execute(sql, params)
            row: tuple[Any, ...] | None = cursor.fetchone()
        return row


def _urlconf_for(tenant: object) -> ModuleType:
    slug = tenant.domain_subfolder  # type: ignore[attr-defined]
    urlconf = _urlconfs.get(slug)
    if urlconf is None:
        if len(_urlconfs) >= MAX_CACHED_URLCONFS:
            _urlconfs.clear()
            clear_url_caches()
        urlconf = _urlconfs[slug] = get_subfolder_urlconf(tenant)
    return urlconf
