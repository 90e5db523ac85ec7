"""Writing change events: the transactional outbox.

`emit` is called by the services that change a company (directory, tokens, tenants) inside
their transaction, after their own locks: one statement reserves the next per-company
numbers and inserts every event of the write (a group push of 10,000 members is still one
statement). The reservation is an UPDATE of the company's `EventStream` row in `public`, held
locked until the write commits, so:

- numbers are gap-free and follow commit order: a transaction waits for the previous
  writer's commit before it gets its numbers; a reader that sees seq N+1 also sees seq N;
- a rollback returns the numbers with everything else;
- the row is the last lock every write takes, so it adds no deadlock: writes of one company
  queue on it only for the time between their last statement and their commit. The one
  write that goes on after its events is a seat freed for someone waiting (its events come
  first, so a reader never sees the seat taken before it was freed): it then provisions
  them, and the rows that takes (the waitlist's, the new member's) are held only by writers
  that want the seat lock it holds before the stream row, or that never want the stream row
  (a refusal remembering a waiting person).

The write's own last row (the provisioning ledger's success row) can ride in the same
statement (`Along`), which saves a round trip per write; and the whole statement can ride in
the write's own last one (`Emission.riding`), which saves another, with the stream row still
locked last.

Company-level events (SCIM switched, credentials) may be written from `public`: there the
outbox is named with its schema. Events of the connection's own company (every SCIM write)
name it through the `search_path` instead, so the statement's text is the same for every
company and is sent bound and prepared (`connection.prepared_cursor()`): one prepared statement
per connection, not one per company served.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import connection

from infra.prepared_query import prepared_cursor


class EventType:
    """Every event type. Strings, as the API and webhooks show them; never renamed."""

    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    USER_DELETED = "user.deleted"
    GROUP_CREATED = "group.created"
    GROUP_RENAMED = "group.renamed"
    GROUP_UPDATED = "group.updated"
    GROUP_DELETED = "group.deleted"
    GROUP_MEMBER_ADDED = "group.member_added"
    GROUP_MEMBER_REMOVED = "group.member_removed"
    SEAT_LIMIT_REACHED = "company.seat_limit_reached"
    SCIM_ENABLED = "company.scim_enabled"
    SCIM_DISABLED = "company.scim_disabled"
    COMPANY_SUSPENDED = "company.suspended"
    COMPANY_REACTIVATED = "company.reactivated"
    CREDENTIAL_CREATED = "company.credential_created"
    CREDENTIAL_REVOKED = "company.credential_revoked"
    CREDENTIAL_REGENERATED = "company.credential_regenerated"

    ALL = (
        USER_CREATED,
        USER_UPDATED,
        USER_DEACTIVATED,
        USER_REACTIVATED,
        USER_DELETED,
        GROUP_CREATED,
        GROUP_RENAMED,
        GROUP_UPDATED,
        GROUP_DELETED,
        GROUP_MEMBER_ADDED,
        GROUP_MEMBER_REMOVED,
        SEAT_LIMIT_REACHED,
        SCIM_ENABLED,
        SCIM_DISABLED,
        COMPANY_SUSPENDED,
        COMPANY_REACTIVATED,
        CREDENTIAL_CREATED,
        CREDENTIAL_REVOKED,
        CREDENTIAL_REGENERATED,
    )


@dataclass(frozen=True)
class NewEvent:
    """One event to write. `data` is the resource after the change (JSON-able)."""

    type: str
    resource_type: str
    resource_id: UUID | None = None
    external_id: str = ""
    user_name: str = ""
    display_name: str = ""
    changed: Sequence[str] = ()
    data: Any = None


@dataclass(frozen=True)
class Origin:
    """The call that caused the events: its request id and identity provider (User-Agent),
    or the support staff or admin who acted."""

    request_id: str = ""
    idp: str = ""


@dataclass(frozen=True)
class Along:
    """An INSERT of the same write run as part of `emit`'s statement (a CTE: PostgreSQL runs
    it to completion whether or not anything reads it), one round trip instead of two. Its
    parameters are named (`%(name)s`), with names of its own: a clash with emit's is refused.
    It takes no lock, so it keeps the stream row the last lock of the write.

    `sql` is an `INSERT INTO … (…) SELECT …` of one row with no FROM and no WHERE, so that
    `Emission.riding` can write it only with the write it rides in."""

    sql: str
    params: dict[str, Any]


def _quoted(schema_name: str) -> str:
    return connection.ops.quote_name(schema_name)


# One statement: reserve len(events) numbers on the stream row (created on the company's
# first event) and insert the events numbered from there, in the order given. The events go
# as one JSON array: the standard library's encoder is C, where psycopg adapts a text array
# element by element in Python.
_EMIT_SQL = """
WITH {along}reserved AS (
    INSERT INTO public.events_feed_eventstream AS s (schema_name, last_seq)
    VALUES (%(schema)s, %(count)s)
    ON CONFLICT (schema_name) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
    RETURNING s.last_seq
)
INSERT INTO {table} (
    seq, id, type, occurred_at, resource_type, resource_id, external_id, user_name,
    display_name, changed, data, request_id, idp
)
SELECT
    (SELECT last_seq FROM reserved) - %(count)s + e.n, gen_random_uuid(), e.doc->>'type',
    statement_timestamp(), e.doc->>'resource_type', (e.doc->>'resource_id')::uuid,
    e.doc->>'external_id', e.doc->>'user_name', e.doc->>'display_name', e.doc->'changed',
    e.doc->'data', %(request_id)s, %(idp)s
FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e(doc, n)
"""


# The same, as CTEs of the write's own last statement (`Emission.riding`): one round trip
# less per write. PostgreSQL runs a WITH's sub-statements in an order it does not promise, so
# the order of the locks is forced by what each reads: the stream row's upsert selects its
# one row only once the CTE `{after}` (the write's RETURNING) has a row, so that write, with
# its unique index entries, is done before the stream row is locked, and the stream row stays
# the last lock; when the write wrote nothing, the stream is not touched at all. The events
# are numbered from the upsert's RETURNING, so they are written only after it, and only with
# it. The `along` row is written only with the write too (it takes no lock, so its place in
# the statement does not matter): a write that wrote nothing leaves nothing of its
# statement, which can then be its whole transaction (infra.transactions). What the
# statement locks after its CTEs (AFTER triggers fire at its end) comes after the stream
# row: `after` must be a CTE that has taken those locks itself (directory.services'
# `placed`).
_RIDING_SQL = """{along}reserved AS (
    INSERT INTO public.events_feed_eventstream AS s (schema_name, last_seq)
    SELECT %(schema)s, %(count)s WHERE EXISTS (SELECT FROM {after})
    ON CONFLICT (schema_name) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
    RETURNING s.last_seq
),
emitted AS (
    INSERT INTO events_changeevent (
        seq, id, type, occurred_at, resource_type, resource_id, external_id, user_name,
        display_name, changed, data, request_id, idp
    )
    SELECT
        r.last_seq - %(count)s + e.n, gen_random_uuid(), e.doc->>'type',
        statement_timestamp(), e.doc->>'resource_type', (e.doc->>'resource_id')::uuid,
        e.doc->>'external_id', e.doc->>'user_name', e.doc->>'display_name', e.doc->'changed',
        e.doc->'data', %(request_id)s, %(idp)s
    FROM reserved AS r,
        jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e(doc, n)
)"""


def along_cte(along: str, written: str) -> str:
    """An `Along` row's SQL as the CTE `along` of a write's statement, inserting its row only
    once the CTE named `written` has returned one."""
    return f"along AS ({along}\n    WHERE EXISTS (SELECT FROM {written}))"


@functools.cache
def _riding_sql(after: str, along: str | None) -> str:
    # Cached: the text is the same for every write of a shape, and psycopg prepares it once
    # per connection only if it is.
    gated = f"{along_cte(along, after)},\n" if along else ""
    return _RIDING_SQL.format(after=after, along=gated)


@dataclass(frozen=True)
class Emission:
    """`emit`'s statement, built: the events' values rendered and the SQL chosen. A write
    builds it before it takes its hot locks and runs it after its last write, so the
    rendering is not done while the company's other writers wait."""

    sql: str
    params: dict[str, Any]
    # The connection's own company: constant SQL, sent bound and prepared.
    bound: bool
    # The `along` statement's SQL, for `riding`.
    along: str | None = None

    def run(self) -> None:
        """Write the events (and the `along` row). Raises RuntimeError outside a
        transaction, where the events could outlive a failed change."""
        if not connection.in_atomic_block:
            raise RuntimeError("emit() runs inside the transaction of the change it records.")
        with prepared_cursor() if self.bound else connection.cursor() as cursor:
            cursor.execute(self.sql, self.params)

    def riding(self, after: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The events (and the `along` row) as CTEs to append to the WITH of a write's last
        statement, instead of `run`: written once the CTE named `after` has returned a row,
        and not at all when it returns none, the `along` row included. Returns the CTEs'
        text (no leading or trailing comma) and `params` with the emission's own. Raises
        ValueError for an emission of another company (its outbox is not the one the text
        names) or a parameter name in both."""
        if not self.bound:
            raise ValueError("Emission.riding(): only the connection's own company's events.")
        if clash := params.keys() & self.params.keys():
            raise ValueError(
                f"Emission.riding(): the write reuses the parameter(s) {sorted(clash)}."
            )
        return _riding_sql(after, self.along), params | self.params


def _row(event: NewEvent) -> dict[str, Any]:
    """An event as its element of the statement's JSON array (no `data` key: SQL NULL)."""
    row = {
        "type": event.type,
        "resource_type": event.resource_type,
        "resource_id": None if event.resource_id is None else str(event.resource_id),
        "external_id": (event.external_id or "")[:255],
        "user_name": (event.user_name or "")[:255],
        "display_name": (event.display_name or "")[:255],
        "changed": list(event.changed),
    }
    if event.data is not None:
        row["data"] = event.data
    return row


def emit(
    events: Sequence[NewEvent],
    *,
    origin: Origin,
    schema_name: str | None = None,
    along: Along | None = None,
) -> None:
    """Write `events` into the outbox of `schema_name` (default: the connection's company),
    numbered in the given order, and run `along` in the same statement. Call inside the
    transaction of the change, after its other locks (see the module docstring); raises
    RuntimeError outside a transaction, where the events could outlive a failed change, and
    ValueError when `along` has no events to go with (run it on its own then) or reuses a
    parameter name."""
    if (built := emission(events, origin=origin, schema_name=schema_name, along=along)) is not None:
        built.run()


def emission(
    events: Sequence[NewEvent],
    *,
    origin: Origin,
    schema_name: str | None = None,
    along: Along | None = None,
) -> Emission | None:
    """What `emit` runs, built for `Emission.run` to write later in the same company and
    transaction; None when there are no events. Raises ValueError as `emit` does."""
    if not events:
        if along is not None:
            raise ValueError("emit(): no events for the statement `along` to ride with.")
        return None
    # django-tenants' connection knows the schema it serves (the company of the request).
    schema: str = schema_name or connection.schema_name  # type: ignore[attr-defined]
    params: dict[str, Any] = {
        "schema": schema,
        "count": len(events),
        "request_id": origin.request_id[:64],
        "idp": origin.idp[:200],
        "events": json.dumps([_row(event) for event in events], default=str),
    }
    prefix = ""
    if along is not None:
        if clash := params.keys() & along.params.keys():
            raise ValueError(f"emit(): `along` reuses the parameter(s) {sorted(clash)}.")
        params.update(along.params)
        prefix = f"along AS ({along.sql}),\n"
    # The connection's own company: its outbox is the first `events_changeevent` on the
    # search_path (company schemas only have one), and the text stays constant.
    own = schema == connection.schema_name  # type: ignore[attr-defined]
    table = "events_changeevent" if own else f"{_quoted(schema)}.events_changeevent"
    return Emission(
        _EMIT_SQL.format(along=prefix, table=table),
        params,
        bound=own,
        along=None if along is None else along.sql,
    )
