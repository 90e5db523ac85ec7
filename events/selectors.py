"""Reading change events after a cursor: the interface for every consumer (the vendor API
today, webhook delivery next).

Two orders exist, both without gaps a reader could step over:

- a company's own events by `seq` (its outbox, `company_events_after`): complete as soon as
  the change commits;
- all companies' events by `position` (the public feed, `feed_after`): complete once the
  relay (events.relay, a Celery beat task) has copied them, usually within a second or two.

A consumer keeps the last `seq` (or `position`) it handled and asks for what comes after it;
it never needs a delivery flag on the event rows.

A consumer that wants only some event types reads the same orders through a bounded window
(`company_events_of_types`, `feed_of_types`): its cursor stays a place in the unfiltered
order, so it can change its filter at any time without losing or repeating events.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from events.feed.models import EventStream, FeedEvent

MAX_PAGE = 1000
# How many events after the cursor a read of some types looks at, at most. Nothing indexes
# `type` (every index of the outbox is paid by every SCIM write, and the feed's by every relay
# run), so such a read walks the primary key and filters: the bound keeps a read of rare
# types from walking through every retained event. Ten of the largest pages, because the
# rows a window skips never leave PostgreSQL: a whole window costs the database about what
# one full unfiltered page costs (bench it with the SCIM-sized rows of a real outbox before
# raising it), and a consumer of rare types catches up in a tenth of the requests a
# page-sized window would take.
TYPES_SCAN = 10 * MAX_PAGE
_COLUMNS = (
    "seq, id, type, occurred_at, resource_type, resource_id, external_id, user_name, "
    "display_name, changed, data, request_id, idp"
)


@dataclass(frozen=True)
class Event:
    """One change event as readers see it. `schema_name` says whose (interfaces show the
    company's slug); `position` is its place in the public feed (None when read from the
    company's outbox)."""

    schema_name: str
    seq: int
    id: uuid.UUID
    type: str
    occurred_at: dt.datetime
    resource_type: str
    resource_id: uuid.UUID | None
    external_id: str
    user_name: str
    display_name: str
    changed: list[str]
    data: Any
    request_id: str
    idp: str
    position: int | None = None

    @property
    def place(self) -> int:
        """Its place in the order it was read in: `position` in the feed, else `seq`."""
        return self.seq if self.position is None else self.position


def company_events_after(schema_name: str, after_seq: int, limit: int) -> list[Event]:
    """The company's events with seq > `after_seq`, in seq order, at most `limit` (capped at
    MAX_PAGE). One indexed range read of the company's outbox; no relay involved."""
    table = f"{connection.ops.quote_name(schema_name)}.events_changeevent"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_COLUMNS} FROM {table} WHERE seq > %s ORDER BY seq LIMIT %s",  # noqa: S608 - quoted name
            [after_seq, min(limit, MAX_PAGE)],
        )
        rows = cursor.fetchall()
    return [_event(schema_name, row) for row in rows]


def _event(schema_name: str, row: tuple[Any, ...], position: int | None = None) -> Event:
    seq, pk, kind, occurred_at, resource_type, resource_id, *rest = row
    external_id, user_name, display_name, changed, data, request_id, idp = rest
    return Event(
        schema_name=schema_name,
        seq=seq,
        id=pk,
        type=kind,
        occurred_at=occurred_at,
        resource_type=resource_type,
        resource_id=resource_id,
        external_id=external_id,
        user_name=user_name,
        display_name=display_name,
        changed=_json(changed),
        data=_json(data),
        request_id=request_id,
        idp=idp,
        position=position,
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def feed_after(after_position: int, limit: int) -> list[Event]:
    """All companies' relayed events with position > `after_position`, in position order, at
    most `limit` (capped at MAX_PAGE). One range read of the feed's primary key."""
    rows = FeedEvent.objects.filter(position__gt=after_position).order_by("position")[
        : min(limit, MAX_PAGE)
    ]
    return [
        Event(
            schema_name=row.schema_name,
            seq=row.seq,
            id=row.id,
            type=row.type,
            occurred_at=row.occurred_at,
            resource_type=row.resource_type,
            resource_id=row.resource_id,
            external_id=row.external_id,
            user_name=row.user_name,
            display_name=row.display_name,
            changed=row.changed,
            data=row.data,
            request_id=row.request_id,
            idp=row.idp,
            position=row.position,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class EventPage:
    """A page of events and the cursor after it. `next` is the place after everything the
    read looked at, shown or not; `more` says whether events follow it (a page of some types
    can be empty with `more` true). `first` is the place of the first event after the cursor,
    of any type (None: none), for the reader's check of the cursor."""

    events: list[Event]
    first: int | None
    next: int
    more: bool

    @classmethod
    def of(cls, events: list[Event], after: int, limit: int) -> EventPage:
        """The page of a read of `limit` + 1 events of every type after `after`."""
        shown = events[:limit]
        return cls(
            events=shown,
            first=events[0].place if events else None,
            next=shown[-1].place if shown else after,
            more=len(events) > limit,
        )


def _types_sql(table: str, key: str, columns: str) -> str:
    """One statement for an EventPage: the window's bounds (its first and last key, and whether
    anything follows: index-only reads of the primary key), then the wanted rows inside it (a
    range read of the primary key, filtered), with a row of bounds even when nothing matches.
    Whether anything follows is the next key (`ORDER BY … LIMIT 1`), not EXISTS: the planner
    may answer EXISTS with a scan of the table from its start, and the later rows are at its
    end."""
    return f"""
        WITH bounds AS MATERIALIZED (
            SELECT first, last, (
                SELECT {key} FROM {table} WHERE {key} > last ORDER BY {key} LIMIT 1
            ) IS NOT NULL AS more
            FROM (
                SELECT min({key}) AS first, max({key}) AS last
                FROM (
                    SELECT {key} FROM {table} WHERE {key} > %(after)s
                    ORDER BY {key} LIMIT %(scan)s
                ) AS scanned
            ) AS edges
        )
        SELECT bounds.first, bounds.last, bounds.more, page.*
        FROM bounds LEFT JOIN LATERAL (
            SELECT {columns} FROM {table}
            WHERE {key} > %(after)s AND {key} <= bounds.last AND type = ANY(%(types)s)
            ORDER BY {key} LIMIT %(limit)s
        ) AS page ON true
        ORDER BY page.{key}
    """  # noqa: S608 - quoted names and constants only


def _typed_page(
    sql: str, after: int, types: list[str], limit: int, event: Callable[[Any], Event]
) -> EventPage:
    limit = min(limit, MAX_PAGE)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {"after": after, "scan": TYPES_SCAN, "types": types, "limit": limit + 1},
        )
        rows = cursor.fetchall()
    first, last, more = rows[0][:3]
    events = [event(row[3:]) for row in rows if row[3] is not None]
    if len(events) > limit:
        # The page is full before the window's end: the next one starts after its last event.
        events = events[:limit]
        return EventPage(events=events, first=first, next=events[-1].place, more=True)
    return EventPage(events=events, first=first, next=after if last is None else last, more=more)


def company_events_of_types(
    schema_name: str, after_seq: int, types: list[str], limit: int
) -> EventPage:
    """The company's events of `types` among the TYPES_SCAN after `after_seq`, in seq order, at
    most `limit` (capped at MAX_PAGE). One statement, range reads of the outbox's primary key."""
    table = f"{connection.ops.quote_name(schema_name)}.events_changeevent"
    return _typed_page(
        _types_sql(table, "seq", _COLUMNS),
        after_seq,
        types,
        limit,
        lambda row: _event(schema_name, row),
    )


def feed_of_types(after_position: int, types: list[str], limit: int) -> EventPage:
    """All companies' relayed events of `types` among the TYPES_SCAN after `after_position`, in
    position order, at most `limit` (capped at MAX_PAGE). One statement, range reads of the
    feed's primary key."""
    table = f"public.{connection.ops.quote_name(FeedEvent._meta.db_table)}"
    return _typed_page(
        _types_sql(table, "position", f"position, schema_name, {_COLUMNS}"),
        after_position,
        types,
        limit,
        lambda row: _event(row[1], row[2:], position=row[0]),
    )


def company_stream_head(schema_name: str) -> int:
    """The last seq the company's committed writes took (0: none yet)."""
    head = (
        EventStream.objects.filter(schema_name=schema_name)
        .values_list("last_seq", flat=True)
        .first()
    )
    return head or 0


def feed_head() -> int:
    """The last position the relay has handed out (0: none yet), deleted events included."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, 'position')::regclass)",
            [FeedEvent._meta.db_table],
        )
        (head,) = cursor.fetchone()
    return head or 0
