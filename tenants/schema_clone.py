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
            cursor.execute(
                sql.SQL("ALTER TABLE {}.{} RENAME CONSTRAINT {} TO {}")
                .format(
                    sql.Identifier(schema),
                    sql.Identifier(table),
                    sql.Identifier(current),
                    sql.Identifier(wanted),
                )
                .as_string(cursor.connection)
            )
    return len(renames)
