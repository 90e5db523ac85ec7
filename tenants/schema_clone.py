"""What django-tenants' schema clone gets wrong, put right.

New companies are cloned from the pre-migrated base schema (TENANT_BASE_SCHEMA). The clone
recreates UNIQUE constraints under PostgreSQL's default names (`<table>_<columns>_key`)
instead of the names the migrations gave them (`membership_unique`, Django's hashed
`…_uniq`). Nothing breaks at once, but any later migration that names such a constraint
(RemoveConstraint, AlterUniqueTogether by name) would fail on every cloned company. Renaming
them back after the clone keeps every company's schema identical to the base.

Companies cloned before this existed are fixed by migration directory/0006: a later
migration, in any tenant app, that names a UNIQUE constraint must depend on it.
"""

from __future__ import annotations

from django.db import connection
from psycopg import sql

# Matched by table, kind and column *names*: column numbers differ when the base schema's
# table once had a column that a later migration dropped (the clone never had it).
_MISNAMED = """
WITH named AS (
  SELECT c.connamespace, t.relname, c.contype, c.conname,
         ARRAY(
           SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, position)
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
           ORDER BY k.position
         ) AS columns
  FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
  WHERE c.contype = 'u'
    AND c.connamespace IN (%(schema)s::regnamespace, %(base)s::regnamespace)
)
SELECT clone.relname, clone.conname, base.conname
FROM named clone
JOIN named base
  ON base.connamespace = %(base)s::regnamespace
 AND base.relname = clone.relname
 AND base.columns = clone.columns
WHERE clone.connamespace = %(schema)s::regnamespace
  AND clone.conname <> base.conname
"""


def restore_constraint_names(schema: str, base: str) -> int:
    """Give the UNIQUE constraints of `schema` the names they have in `base`; returns how
    many were renamed. Safe to run again (nothing left to rename)."""
    if schema == base:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_MISNAMED, {"schema": schema, "base": base})
        renames = cursor.fetchall()
    for table, current, wanted in renames:
        execute_ddl("ALTER TABLE {}.{} RENAME CONSTRAINT {} TO {}", schema, table, current, wanted)
    return len(renames)


def execute_ddl(template: str, *names: str) -> None:
    """Run a statement whose `{}` placeholders are identifiers (schema, table, constraint
    names), quoted by psycopg: names come from the catalogs or from our own code, but are
    never pasted into SQL as text."""
    statement = sql.SQL(template).format(*(sql.Identifier(name) for name in names))
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(cursor.connection))
