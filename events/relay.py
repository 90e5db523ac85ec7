"""The relay: copies committed company events into the public feed, in order, so the vendor
API can page through all companies with one cursor.

Why a relay: a global sequence taken at write time does not give commit order (a write that
took number 7 can commit after number 8 was read, and a reader at 8 would skip it), and a
global counter row locked by every write would serialise all companies. Each company's own
`seq` is in commit order (events.outbox); the relay, one at a time (a transaction-level
advisory lock), appends each company's new, committed events to the feed. So the feed holds
every company's events in that company's order, nothing is skipped (a reader's `position`
cursor only ever sees complete relay runs) and nothing is there twice (unique company+seq).
Between companies the order is the relay's: within one run, one company after the other,
so two companies' events are ordered only to within a relay interval. The cost is delay:
the feed is as fresh as the last relay run (EVENTS_RELAY_SECONDS); a company's own events
(`?company=`) are read from its outbox, complete at commit.
"""

from __future__ import annotations

from django.db import connection, transaction

# Any constant unique to this lock: pg_advisory_xact_lock's key space is shared by the database.
_RELAY_LOCK = 0x6863_6576_0001
COMPANIES_PER_RUN = 500
EVENTS_PER_COMPANY = 5000

# Streams with events the feed has not got yet, whose schema still exists (a deleted
# company's schema is gone; its stream row stays behind, harmlessly).
_PENDING_SQL = """
SELECT s.schema_name, s.last_seq, COALESCE(r.relayed_seq, 0)
FROM public.events_feed_eventstream AS s
LEFT JOIN public.events_feed_relaycursor AS r ON r.schema_name = s.schema_name
WHERE s.last_seq > COALESCE(r.relayed_seq, 0)
  AND to_regclass(quote_ident(s.schema_name) || '.events_changeevent') IS NOT NULL
ORDER BY s.schema_name
LIMIT %s
"""

_COPY_SQL = """
INSERT INTO public.events_feed_feedevent (
    schema_name, seq, id, type, occurred_at, resource_type, resource_id, external_id,
    user_name, display_name, changed, data, request_id, idp
)
SELECT %s, seq, id, type, occurred_at, resource_type, resource_id, external_id, user_name,
       display_name, changed, data, request_id, idp
FROM {table}
WHERE seq > %s AND seq <= %s
ORDER BY seq
"""

_ADVANCE_SQL = """
INSERT INTO public.events_feed_relaycursor (schema_name, relayed_seq) VALUES (%s, %s)
ON CONFLICT (schema_name) DO UPDATE SET relayed_seq = EXCLUDED.relayed_seq
"""


def relay_run() -> int:
    """Copy what is new in every company's outbox into the feed, in one transaction; returns
    how many events were copied (0 also when another relay is running: it will copy them).
    A company's rows up to its stream's `last_seq` are committed: they commit with it."""
    copied = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_RELAY_LOCK])
        (locked,) = cursor.fetchone() or (False,)
        if not locked:
            return 0
        cursor.execute(_PENDING_SQL, [COMPANIES_PER_RUN])
        for schema_name, last_seq, relayed_seq in cursor.fetchall():
            upto = min(last_seq, relayed_seq + EVENTS_PER_COMPANY)
            table = f"{connection.ops.quote_name(schema_name)}.events_changeevent"
            cursor.execute(_COPY_SQL.format(table=table), [schema_name, relayed_seq, upto])
            copied += cursor.rowcount
            cursor.execute(_ADVANCE_SQL, [schema_name, upto])
    return copied


def relay_until_idle(max_runs: int = 100) -> int:
    """Run the relay until it finds nothing new (or `max_runs`); returns the events copied."""
    total = 0
    for _ in range(max_runs):
        copied = relay_run()
        total += copied
        if not copied:
            break
    return total
