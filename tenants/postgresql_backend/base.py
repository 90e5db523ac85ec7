"""django-tenants' PostgreSQL backend, sending `SET search_path` once per company switch
instead of before every query.

django-tenants re-sends `SET search_path` before each query unless TENANT_LIMIT_SET_CALLS is
on, and with it on still re-sends it after every `set_tenant`, even to the company already
selected: a SCIM request to a company paid a SET before each of its three queries (about a
third of its round trips). Here the setting is on and a `set_tenant` to the search path the
connection already has keeps it. What makes skipping safe is that the cached value is
dropped whenever the database may have dropped the setting: a SET is transactional, so
django-tenants' backend forgets it on rollback and on rollback to a savepoint, and on close;
this one also on connect (a new session starts at the server default).
"""

from __future__ import annotations

from typing import Any

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper


class DatabaseWrapper(TenantDatabaseWrapper):
    search_path_set_schemas: list[str] | None

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None:
        already = self.search_path_set_schemas
        super().set_tenant(tenant, include_public)
        if already is not None and already == self._get_cursor_search_paths():
            self.search_path_set_schemas = already

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        self.search_path_set_schemas = None
        return super().get_new_connection(conn_params)
