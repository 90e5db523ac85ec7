"""A few company schemas cloned ahead of time, so creating a company is a rename.

A Celery task keeps SCHEMA_POOL_SIZE clones of `tenant_base` ready as `pool_<hex>` schemas;
`company_create` renames one to the company's schema name inside its own transaction
(`ALTER SCHEMA … RENAME`: ~0.03 s) and only clones on the spot (tenants.schema_clone,
~0.07 s, flat in the number of companies) when the pool is empty. The pool dates from when
the clone was django-tenants' and grew with every company (4 s at 63 companies); it still
takes the clone off the request path.

A pooled schema is only usable while `tenant_base` has the migrations it was cloned with
(its fingerprint); the filler drops stale ones after a deploy that migrated the base.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import connection, transaction
from psycopg import sql

from tenants.models import SchemaPoolEntry
from tenants.schema_clone import clone_schema, execute_ddl

PREFIX = "pool_"


def base_fingerprint() -> str:
    """Which migrations the base schema has: pooled schemas must have the same."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "SELECT md5(string_agg(app || '.' || name, ',' ORDER BY app, name)) "
                "FROM {}.django_migrations"
            )
            .format(sql.Identifier(settings.TENANT_BASE_SCHEMA))
            .as_string(cursor.connection)
        )
        row = cursor.fetchone()
    return str(row[0] if row else "")


def pool_fill(size: int | None = None) -> int:
    """Drop stale pooled schemas, then clone until `size` (SCHEMA_POOL_SIZE) are ready.
    Returns how many were cloned."""
    wanted = settings.SCHEMA_POOL_SIZE if size is None else size
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    fingerprint = base_fingerprint()
    for stale in SchemaPoolEntry.objects.exclude(fingerprint=fingerprint):
        with transaction.atomic():
            execute_ddl("DROP SCHEMA IF EXISTS {} CASCADE", stale.schema_name)
            stale.delete()
    cloned = 0
    while SchemaPoolEntry.objects.count() < wanted:
        name = f"{PREFIX}{uuid.uuid4().hex[:16]}"
        with transaction.atomic():
            clone_schema(settings.TENANT_BASE_SCHEMA, name, fingerprint=fingerprint)
            SchemaPoolEntry.objects.create(schema_name=name, fingerprint=fingerprint)
        cloned += 1
    return cloned


def pool_take(schema_name: str) -> bool:
    """Rename a ready pooled schema to `schema_name`; False when none is ready. Call inside
    the transaction that creates the company: a rollback puts the schema back."""
    entry = (
        SchemaPoolEntry.objects.select_for_update(skip_locked=True)
        .filter(fingerprint=base_fingerprint())
        .order_by("created_at")
        .first()
    )
    if entry is None:
        return False
    execute_ddl("ALTER SCHEMA {} RENAME TO {}", entry.schema_name, schema_name)
    entry.delete()
    return True
