"""Reading change events after a cursor: the interface for every consumer (the vendor API
today, webhook delivery next).

Two orders exist, both without gaps a reader could step over:

- a company's own events by `seq` (its outbox, `company_events_after`): complete as soon as
  the change commits;
- all companies' events by `position` (the public feed, `feed_after`): complete once the
  relay (events.relay, a Celery beat task) has copied them, usually within a second or two.

A consumer keeps the last `seq` (or `position`) it handled and asks for what comes after it;
it never needs a delivery flag on the event rows.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection

from events.feed.models import EventStream, FeedEvent

MAX_PAGE = 1000
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
