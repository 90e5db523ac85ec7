"""Retention: events older than EVENT_RETENTION_DAYS leave the feed and the outboxes."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

# A company's events are dropped only once the relay has copied them (an event still waiting
# for the relay, the worker down for days, is kept until it is in the feed) and every enabled
# webhook endpoint has delivered them (webhooks.models.WebhookCursor; the table is named, not
# imported: webhooks sits above events). A disabled endpoint, or a paused company stream, holds
# nothing back: what it misses beyond the retention period is gone for it (docs/operations.md).
_STREAMS_SQL = """
SELECT r.schema_name, LEAST(r.relayed_seq, COALESCE((
    SELECT min(k.delivered_seq) FROM public.webhooks_webhookcursor AS k
    JOIN public.webhooks_webhookendpoint AS e ON e.id = k.endpoint_id AND e.enabled
    WHERE k.schema_name = r.schema_name AND k.paused_at IS NULL
), r.relayed_seq))
FROM public.events_feed_relaycursor AS r
WHERE to_regclass(quote_ident(r.schema_name) || '.events_changeevent') IS NOT NULL
ORDER BY r.schema_name
"""


def events_purge(days: int, *, now: dt.datetime | None = None) -> int:
    """Delete events that occurred more than `days` days ago from the public feed and from
    every company's outbox; returns how many rows went. Each delete is its own transaction,
    so a long purge holds no lock across companies."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    deleted = 0
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM public.events_feed_feedevent WHERE occurred_at < %s", [cutoff])
        deleted += cursor.rowcount
        cursor.execute(_STREAMS_SQL)
        streams = cursor.fetchall()
    for schema_name, kept_after in streams:
        table = f"{connection.ops.quote_name(schema_name)}.events_changeevent"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE occurred_at < %s AND seq <= %s",  # noqa: S608 - quoted name
                [cutoff, kept_after],
            )
            deleted += cursor.rowcount
    return deleted
