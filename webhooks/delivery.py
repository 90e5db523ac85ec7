"""Delivering events to endpoints, in order per (endpoint, company), at least once.

A company's stream for one endpoint is delivered by one worker at a time (a PostgreSQL
session advisory lock, released when the worker's connection ends, also when the worker is
SIGKILLed), event by event in `seq` order, and the endpoint's cursor advances only after a
2xx (compare-and-set: a resend from the log may rewind it meanwhile, and the run then goes
on from the rewound position). A failure records the attempt, sets the stream's `retry_at`
(exponential backoff with jitter) and stops the stream there: later events of that company
wait behind it; other companies' streams go on. Nothing is scheduled in the broker for
later: the sweeper (every WEBHOOK_SWEEP_SECONDS) hands every stream that is behind and due
to a worker, so events written while Redis or the worker was down, retries, and streams
whose worker died are all picked up by the same query.

Failure is kept at two levels. The endpoint's `failing_since` says it has answered no stream
with a 2xx since then: when that is WEBHOOK_DISABLE_AFTER_SECONDS old the endpoint is down
and is disabled (one e-mail). A stream's own `failing_since` (its cursor's) says this
company's events have failed since then: when that is as old while the endpoint goes on
taking other companies' events, only that stream is paused (one e-mail for it), and the
others keep flowing. For an endpoint of one company the two are the same and it is disabled.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from events.selectors import Event, company_events_after, company_stream_head
from tenants.models import Company
from webhooks import payloads, transport
from webhooks.models import WebhookCursor, WebhookDelivery, WebhookEndpoint
from webhooks.secrets import decrypt

BATCH = 200

logger = logging.getLogger(__name__)


def _host(endpoint: WebhookEndpoint) -> str:
    """The endpoint as a log line or a support e-mail names it: its host, never its URL
    (receivers put tokens in paths and query strings; e-mail is kept and forwarded)."""
    return urlsplit(endpoint.url).hostname or "?"


def backoff(attempts: int) -> dt.timedelta:
    """Delay before attempt `attempts + 1`: doubling from WEBHOOK_RETRY_BASE_SECONDS up to
    WEBHOOK_RETRY_MAX_SECONDS, then a random point between half of that and all of it ("equal
    jitter": streams that failed together do not all come back to the endpoint at once)."""
    ceiling = min(
        settings.WEBHOOK_RETRY_MAX_SECONDS,
        settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0),
    )
    return dt.timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))  # noqa: S311


def retry_delay(attempts: int, answer: transport.Answer) -> dt.timedelta:
    """The backoff, or longer if the receiver's Retry-After (429, 503) asks for longer, up to
    WEBHOOK_RETRY_MAX_SECONDS. Never shorter: a receiver answering `Retry-After: 0` to every
    attempt must not turn a stream into a loop holding a worker."""
    delay = backoff(attempts)
    if answer.retry_after is not None:
        asked = min(answer.retry_after, settings.WEBHOOK_RETRY_MAX_SECONDS)
        delay = max(delay, dt.timedelta(seconds=asked))
    return delay


def signing_secrets(endpoint: WebhookEndpoint, now: dt.datetime) -> list[str]:
    found = [decrypt(endpoint.secret_encrypted)]
    if endpoint.previous_secret_encrypted and (endpoint.previous_secret_until or now) > now:
        found.append(decrypt(endpoint.previous_secret_encrypted))
    return found


def send(
    endpoint: WebhookEndpoint, event: Event, company: str, secrets: list[str]
) -> transport.Answer | None:
    """One attempt; None when the endpoint's format has nothing for this event type."""
    now = timezone.now()
    msg_id = str(event.id)
    if endpoint.format == WebhookEndpoint.Format.SET:
        token = payloads.set_token(event, company, secrets[0], endpoint.url)
        if token is None:
            return None
        body, content_type = token, payloads.SET_MEDIA_TYPE
    else:
        body, content_type = payloads.standard_body(event, company), "application/json"
    headers = {
        "Content-Type": content_type,
        "User-Agent": "Headcount-Webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": payloads.signature(secrets, msg_id, now, body),
    }
    return transport.post(endpoint.url, body, headers)


def _lock_key(endpoint_id: uuid.UUID, schema_name: str) -> str:
    return f"webhooks:{endpoint_id}:{schema_name}"


def _with_stream_lock(endpoint_id: uuid.UUID, schema_name: str, work: Callable[[], None]) -> bool:
    key = _lock_key(endpoint_id, schema_name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
        (locked,) = cursor.fetchone() or (False,)
    if not locked:
        return False
    try:
        work()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
    return True


def deliver_stream(endpoint_id: uuid.UUID, schema_name: str) -> bool:
    """Deliver what `endpoint_id` has not yet got of `schema_name`'s events, in order, until
    done or a failure; False when another worker holds the stream."""

    def work() -> None:
        try:
            _deliver(endpoint_id, schema_name)
        finally:
            WebhookCursor.objects.filter(endpoint_id=endpoint_id, schema_name=schema_name).update(
                kicked_at=None
            )

    return _with_stream_lock(endpoint_id, schema_name, work)


# Successful attempts are recorded in batches (one statement for up to FLUSH_EVERY of them,
# at least every FLUSH_SECONDS): a worker that dies before a flush re-sends those events, which
# at-least-once allows, and a stream costs a few statements per batch instead of per event.
FLUSH_EVERY = 50
FLUSH_SECONDS = 0.5

_DELIVERED_SQL = """
INSERT INTO public.webhooks_webhookdelivery AS d (
    endpoint_id, schema_name, seq, event_id, event_type, status, attempts, response_status,
    latency_ms, response_excerpt, next_attempt_at, created_at, last_attempt_at, delivered_at
)
SELECT %(endpoint)s, %(schema)s, r.seq, r.event_id, r.event_type, 'delivered', 1,
       r.status, r.latency_ms, r.excerpt, NULL, r.at, r.at, r.at
FROM unnest(%(seq)s::bigint[], %(event_id)s::uuid[], %(event_type)s::text[],
            %(status)s::int[], %(latency_ms)s::int[], %(excerpt)s::text[], %(at)s::timestamptz[])
     AS r(seq, event_id, event_type, status, latency_ms, excerpt, at)
ON CONFLICT (endpoint_id, schema_name, seq) DO UPDATE SET
    status = 'delivered', note = '', attempts = d.attempts + 1,
    response_status = EXCLUDED.response_status,
    latency_ms = EXCLUDED.latency_ms, response_excerpt = EXCLUDED.response_excerpt,
    next_attempt_at = NULL, last_attempt_at = EXCLUDED.last_attempt_at,
    delivered_at = EXCLUDED.delivered_at
"""

# Another worker may have disabled the endpoint during this attempt (its other streams fail
# too): the row is then abandoned, as endpoint_disable made that endpoint's other rows, not
# left Retrying with a next attempt that will not come.
_FAILED_SQL = """
INSERT INTO public.webhooks_webhookdelivery AS d (
    endpoint_id, schema_name, seq, event_id, event_type, status, note, attempts,
    response_status, latency_ms, response_excerpt, created_at, last_attempt_at
)
SELECT %(endpoint)s, %(schema)s, %(seq)s, %(event_id)s, %(event_type)s,
       CASE WHEN e.enabled THEN 'retrying' ELSE 'abandoned' END,
       CASE WHEN e.enabled THEN '' ELSE left('endpoint disabled: ' || e.disabled_reason, 300) END,
       1, %(status)s, %(latency_ms)s, %(excerpt)s, %(at)s, %(at)s
FROM public.webhooks_webhookendpoint AS e WHERE e.id = %(endpoint)s
ON CONFLICT (endpoint_id, schema_name, seq) DO UPDATE SET
    status = EXCLUDED.status, note = EXCLUDED.note, attempts = d.attempts + 1,
    response_status = EXCLUDED.response_status, latency_ms = EXCLUDED.latency_ms,
    response_excerpt = EXCLUDED.response_excerpt, last_attempt_at = EXCLUDED.last_attempt_at
RETURNING d.id, d.attempts, d.status
"""

# Rows of events this run passed over on purpose that an earlier attempt or a resend left
# Retrying; events never attempted get no row (a filtered type is not news).
_SKIPPED_SQL = """
UPDATE public.webhooks_webhookdelivery AS d
SET status = 'skipped', note = r.note, next_attempt_at = NULL
FROM unnest(%(seq)s::bigint[], %(note)s::text[]) AS r(seq, note)
WHERE d.endpoint_id = %(endpoint)s AND d.schema_name = %(schema)s AND d.seq = r.seq
  AND d.status = 'retrying'
"""


class _Stream:
    """One run over one (endpoint, company) stream."""

    def __init__(self, endpoint: WebhookEndpoint, cursor: WebhookCursor, company: str):
        self.endpoint, self.cursor, self.company = endpoint, cursor, company
        self.secrets = signing_secrets(endpoint, timezone.now())
        self.done: list[tuple[Event, transport.Answer, dt.datetime]] = []
        self.skipped: list[tuple[int, str]] = []
        self.flushed_at = time.monotonic()
        # The cursor's position as stored; `cursor.delivered_seq` runs ahead of it between
        # flushes. A resend from the log rewinds the stored one while this run goes on.
        self.stored_seq = cursor.delivered_seq
        self.rewound = False

    def _cursor_store(self, retry_at: dt.datetime | None, *, succeeded: bool = False) -> None:
        """Move the stored cursor to where this run got, only from where this run left it.
        A resend rewinds the cursor without the stream lock (it must not wait for a run to
        end); writing over it would skip the resent events, so the run takes the rewound
        position instead and goes on from there. A resend of the event just after the
        stored position leaves that position as it was, so the resends are compared too."""
        changes: dict[str, object] = {
            "delivered_seq": self.cursor.delivered_seq,
            "retry_at": retry_at,
        }
        if succeeded:
            changes["failing_since"] = None
        moved = WebhookCursor.objects.filter(
            pk=self.cursor.pk, delivered_seq=self.stored_seq, resends=self.cursor.resends
        ).update(**changes)
        if moved:
            self.stored_seq = self.cursor.delivered_seq
            self.cursor.retry_at = retry_at
            if succeeded:
                self.cursor.failing_since = None
            return
        self.rewound = True
        self.cursor.refresh_from_db(fields=["delivered_seq", "resends", "retry_at"])
        self.stored_seq = self.cursor.delivered_seq

    def flush(self) -> None:
        """Record the successful attempts and advance the cursor past them (and past skipped
        events), in one transaction."""
        done, self.done = self.done, []
        skipped, self.skipped = self.skipped, []
        self.flushed_at = time.monotonic()
        with transaction.atomic(), connection.cursor() as cursor:
            if skipped:
                cursor.execute(
                    _SKIPPED_SQL,
                    {
                        "endpoint": self.endpoint.pk,
                        "schema": self.cursor.schema_name,
                        "seq": [seq for seq, _ in skipped],
                        "note": [note for _, note in skipped],
                    },
                )
            if done:
                cursor.execute(
                    _DELIVERED_SQL,
                    {
                        "endpoint": self.endpoint.pk,
                        "schema": self.cursor.schema_name,
                        "seq": [event.seq for event, _, _ in done],
                        "event_id": [event.id for event, _, _ in done],
                        "event_type": [event.type for event, _, _ in done],
                        "status": [answer.status for _, answer, _ in done],
                        "latency_ms": [answer.latency_ms for _, answer, _ in done],
                        "excerpt": [answer.excerpt for _, answer, _ in done],
                        "at": [at for _, _, at in done],
                    },
                )
            self._cursor_store(retry_at=None, succeeded=bool(done))
            if done and self.endpoint.failing_since is not None:
                WebhookEndpoint.objects.filter(pk=self.endpoint.pk).update(failing_since=None)
                self.endpoint.failing_since = None

    def skip(self, event: Event, note: str) -> None:
        """Pass over `event` on purpose: the stream goes on."""
        self.cursor.delivered_seq = event.seq
        self.skipped.append((event.seq, note[:300]))

    def attempt(self, event: Event) -> bool:
        """Send `event`; True when the stream may go on."""
        answer = send(self.endpoint, event, self.company, self.secrets)
        if answer is None:
            self.skip(event, f"the {self.endpoint.format} format has nothing for {event.type}")
            return True
        now = timezone.now()
        if answer.ok:
            self.done.append((event, answer, now))
            self.cursor.delivered_seq = event.seq
            if len(self.done) >= FLUSH_EVERY or time.monotonic() - self.flushed_at > FLUSH_SECONDS:
                self.flush()
            return not self.rewound
        self.flush()
        self.failed(event, answer, now)
        return False

    def failed(self, event: Event, answer: transport.Answer, now: dt.datetime) -> None:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    _FAILED_SQL,
                    {
                        "endpoint": self.endpoint.pk,
                        "schema": self.cursor.schema_name,
                        "seq": event.seq,
                        "event_id": event.id,
                        "event_type": event.type,
                        "status": answer.status,
                        "latency_ms": answer.latency_ms,
                        "excerpt": answer.excerpt,
                        "at": now,
                    },
                )
                row = cursor.fetchone()
            if row is None:
                return  # the endpoint is gone
            delivery_id, attempts, status = row
            if status != WebhookDelivery.Status.RETRYING:
                return  # disabled meanwhile: nothing is retried, no failure to count
            retry_at = now + retry_delay(attempts, answer)
            WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=retry_at)
            # Rewound meanwhile (here or in the flush before): the cursor keeps no backoff, the
            # resend asked for now, and the run reaches this event again from there.
            if not self.rewound:
                self._cursor_store(retry_at=retry_at)
            failing_since = self.endpoint.failing_since or now
            if self.endpoint.failing_since is None:
                WebhookEndpoint.objects.filter(pk=self.endpoint.pk, failing_since=None).update(
                    failing_since=now
                )
            stream_failing_since = self.cursor.failing_since or now
            if self.cursor.failing_since is None:
                WebhookCursor.objects.filter(pk=self.cursor.pk, failing_since=None).update(
                    failing_since=now
                )
                self.cursor.failing_since = now
        limit = dt.timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
        if answer.status == 410:
            # Standard Webhooks: 410 Gone says the receiver wants no more webhooks from us;
            # "the sender should disable the webhook endpoint". At once, not after a day.
            logger.warning(
                "Webhook endpoint %s (%s) answered 410 Gone to event %s of %s: disabling it",
                self.endpoint.pk,
                _host(self.endpoint),
                event.id,
                self.cursor.schema_name,
            )
            endpoint_disable(self.endpoint, reason="the receiver answered 410 Gone")
        elif now - failing_since >= limit:
            endpoint_disable(
                self.endpoint, reason=f"failing since {failing_since:%Y-%m-%d %H:%M} UTC"
            )
        elif now - stream_failing_since >= limit:
            stream_pause(
                self.endpoint,
                self.cursor,
                company=self.company,
                reason=f"{self.company}'s events failing since "
                f"{stream_failing_since:%Y-%m-%d %H:%M} UTC while other companies' succeed",
            )


def wanted(endpoint: WebhookEndpoint, event: Event) -> bool:
    """Whether the endpoint takes `event`: by the event types in force when it was queued
    (the stream's `types_before`, read into the endpoint by `_deliver`), else by its current
    ones. An edit of the types applies to what happens after it, not to the backlog."""
    for until_seq, types in getattr(endpoint, "types_before", None) or ():
        if event.seq <= until_seq:
            return not types or event.type in types
    return endpoint.wants(event.type)


def _deliver(endpoint_id: uuid.UUID, schema_name: str) -> None:
    row = Company.objects.filter(schema_name=schema_name).values_list("id", "slug").first()
    if row is None:
        return
    company_id, company = row
    cursor, _ = WebhookCursor.objects.get_or_create(
        endpoint_id=endpoint_id, schema_name=schema_name
    )
    if cursor.paused_at is not None:
        return  # paused (a task queued before the pause): support resumes it
    if cursor.retry_at is not None and cursor.retry_at > timezone.now():
        return  # backing off (a duplicate task came early): the sweeper brings it back when due
    while True:
        # The stream's type history with the endpoint, in one read: an edit of the endpoint's
        # types commits both together.
        endpoint = (
            WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True)
            .annotate(
                types_before=Subquery(
                    WebhookCursor.objects.filter(pk=cursor.pk).values("types_before")
                )
            )
            .first()
        )
        if endpoint is None:
            return
        # The sweeper pairs a company's endpoint with that company's stream only; a task
        # naming another (queued by hand, or stale) must not send that company's events there.
        if endpoint.company_id is not None and endpoint.company_id != company_id:
            return
        events = company_events_after(schema_name, cursor.delivered_seq, BATCH)
        if not events:
            return
        stream = _Stream(endpoint, cursor, company)
        for event in events:
            if not wanted(endpoint, event):
                stream.skip(event, f"{event.type} is not among the endpoint's event types")
                continue
            if not stream.attempt(event):
                break
        else:
            stream.flush()
            continue
        if not stream.rewound:
            return  # a failure: the stream waits for its retry
        # A resend rewound the cursor during the run: go on from the resent event.


def endpoint_disable(endpoint: WebhookEndpoint, *, reason: str) -> None:
    """Stop sending to an endpoint that keeps failing and tell support. Its undelivered events
    stay in the outbox (and its cursors where they are): enabling it again resumes from there."""
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
            enabled=False, disabled_at=timezone.now(), disabled_reason=reason[:300]
        )
        if changed:
            deliveries_abandon(endpoint.pk, note=f"endpoint disabled: {reason}")
    if not changed:
        return  # another worker disabled it (and wrote the e-mail)
    logger.warning("Webhook endpoint disabled: %s (%s): %s", endpoint.pk, _host(endpoint), reason)
    _tell_support(
        subject=f"Webhook endpoint disabled: {_host(endpoint)}",
        message=(
            f"The webhook endpoint at {_host(endpoint)} (id {endpoint.pk}) was disabled: "
            f"{reason}.\n\nIts events are kept; enable it in the support admin once it "
            "answers again, and delivery resumes where it stopped."
        ),
    )


def stream_pause(
    endpoint: WebhookEndpoint, cursor: WebhookCursor, *, company: str, reason: str
) -> None:
    """Stop sending one company's events to an endpoint that keeps refusing them while it takes
    other companies', and tell support. The stream's events stay in the outbox and its cursor
    where it is: resuming it (the admin's webhook streams) goes on from there."""
    with transaction.atomic():
        changed = WebhookCursor.objects.filter(pk=cursor.pk, paused_at=None).update(
            paused_at=timezone.now(), paused_reason=reason[:300]
        )
        if changed:
            deliveries_abandon(
                endpoint.pk, schema_name=cursor.schema_name, note=f"stream paused: {reason}"
            )
    if not changed:
        return
    logger.warning(
        "Webhook stream paused: endpoint %s (%s), company %s (schema %s): %s",
        endpoint.pk,
        _host(endpoint),
        company,
        cursor.schema_name,
        reason,
    )
    _tell_support(
        subject=f"Webhook stream paused: {company} to {_host(endpoint)}",
        message=(
            f"The webhook endpoint at {_host(endpoint)} (id {endpoint.pk}) takes other companies' "
            f"events but not {company}'s (schema {cursor.schema_name}), so that company's "
            f"stream was paused: {reason}.\n\nIts events are kept; once the receiver takes "
            "them, resume the stream in the support admin (Webhook streams) and delivery "
            "resumes where it stopped."
        ),
    )


def deliveries_abandon(endpoint_id: uuid.UUID, *, note: str, schema_name: str = "") -> int:
    """Mark the Retrying rows of an endpoint (or of one of its streams) Abandoned: nothing will
    retry them until it is enabled (or resumed) again."""
    rows = WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=WebhookDelivery.Status.RETRYING
    )
    if schema_name:
        rows = rows.filter(schema_name=schema_name)
    return rows.update(
        status=WebhookDelivery.Status.ABANDONED, next_attempt_at=None, note=note[:300]
    )


_PAST_RETENTION = "past retention: the event is no longer kept"


def deliveries_resume(endpoint_id: uuid.UUID, *, schema_name: str = "") -> int:
    """Make the Abandoned (and Retrying) rows of an endpoint, or of one of its streams, due now:
    delivery resumes at once from the first unacknowledged event. A stream still paused keeps
    its rows Abandoned."""
    rows = WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id,
        status__in=[WebhookDelivery.Status.ABANDONED, WebhookDelivery.Status.RETRYING],
    ).exclude(
        schema_name__in=WebhookCursor.objects.filter(
            endpoint_id=endpoint_id, paused_at__isnull=False
        ).values("schema_name")
    )
    if schema_name:
        rows = rows.filter(schema_name=schema_name)
    # A row whose event retention dropped meanwhile (a paused stream or a disabled endpoint
    # holds nothing back) would stay Retrying for good: delivery resumes past it.
    schemas = set(rows.values_list("schema_name", flat=True).distinct())
    for schema in schemas & set(Company.objects.values_list("schema_name", flat=True)):
        oldest = company_events_after(schema, 0, 1)
        kept_from = oldest[0].seq if oldest else company_stream_head(schema) + 1
        rows.filter(schema_name=schema, seq__lt=kept_from).update(
            status=WebhookDelivery.Status.ABANDONED,
            next_attempt_at=None,
            note=_PAST_RETENTION,
        )
    return rows.exclude(note=_PAST_RETENTION).update(
        status=WebhookDelivery.Status.RETRYING, next_attempt_at=timezone.now(), note=""
    )


def _tell_support(*, subject: str, message: str) -> None:
    recipients = [*settings.SUPPORT_EMAILS, *(address for _, address in settings.ADMINS)]
    if recipients:
        send_mail(
            subject=f"[Headcount] {subject}",
            message=message,
            from_email=None,
            recipient_list=recipients,
        )


# Streams behind their endpoint's cursor and due: no retry pending, no task queued recently.
# An endpoint made for all companies joins every stream; one for a company only its own.
_DUE_SQL = """
SELECT e.id, s.schema_name
FROM public.webhooks_webhookendpoint AS e
LEFT JOIN public.tenants_company AS c ON c.id = e.company_id
JOIN public.events_feed_eventstream AS s ON e.company_id IS NULL OR s.schema_name = c.schema_name
LEFT JOIN public.webhooks_webhookcursor AS k
  ON k.endpoint_id = e.id AND k.schema_name = s.schema_name
WHERE e.enabled
  AND s.last_seq > COALESCE(k.delivered_seq, 0)
  AND (k.retry_at IS NULL OR k.retry_at <= statement_timestamp())
  AND k.paused_at IS NULL
  AND (k.kicked_at IS NULL OR k.kicked_at <= statement_timestamp() - make_interval(secs => %s))
  AND to_regclass(quote_ident(s.schema_name) || '.events_changeevent') IS NOT NULL
LIMIT %s
"""

_KICKED_SQL = """
INSERT INTO public.webhooks_webhookcursor (endpoint_id, schema_name, delivered_seq, kicked_at)
SELECT unnest(%s::uuid[]), unnest(%s::text[]), 0, statement_timestamp()
ON CONFLICT (endpoint_id, schema_name) DO UPDATE SET kicked_at = statement_timestamp()
"""

SWEEP_LIMIT = 10_000


def streams_due() -> list[tuple[uuid.UUID, str]]:
    with connection.cursor() as cursor:
        cursor.execute(_DUE_SQL, [settings.WEBHOOK_KICK_SECONDS, SWEEP_LIMIT])
        return [(endpoint_id, schema) for endpoint_id, schema in cursor.fetchall()]


def streams_kicked(streams: list[tuple[uuid.UUID, str]]) -> None:
    """Mark streams as handed to a worker: the sweeper leaves them alone for
    WEBHOOK_KICK_SECONDS, or until the worker is done with them (it clears the mark)."""
    if not streams:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _KICKED_SQL,
            [[str(endpoint_id) for endpoint_id, _ in streams], [schema for _, schema in streams]],
        )


# The delivery log's rows the purge takes, oldest kept first: delivered ones past the log's
# retention; skipped ones too (passed over on purpose, never sent); abandoned ones once their
# event is past the events' retention as well, since before that enabling the endpoint or
# resuming the stream would send them. A statement per kind, each through its own index.
_PURGE_SQL = (
    "DELETE FROM public.webhooks_webhookdelivery WHERE id IN ("
    " SELECT id FROM public.webhooks_webhookdelivery WHERE delivered_at < %(log)s LIMIT 10000)",
    "DELETE FROM public.webhooks_webhookdelivery WHERE id IN ("
    " SELECT id FROM public.webhooks_webhookdelivery"
    " WHERE status <> 'delivered' AND ("
    "  (status = 'skipped' AND created_at < %(log)s)"
    "  OR (status = 'abandoned' AND created_at < %(events)s))"
    " LIMIT 10000)",
)


def log_purge(days: int, *, now: dt.datetime | None = None) -> int:
    """Delete the delivery log's rows older than `days` that nothing will send again
    (`_PURGE_SQL`), in chunks (no long lock on the table). Retrying rows stay."""
    now = now or timezone.now()
    cutoffs = {
        "log": now - dt.timedelta(days=days),
        "events": now - dt.timedelta(days=max(days, settings.EVENT_RETENTION_DAYS)),
    }
    deleted = 0
    for statement in _PURGE_SQL:
        while True:
            with connection.cursor() as cursor:
                cursor.execute(statement, cutoffs)
                deleted += cursor.rowcount
                if cursor.rowcount < 10000:
                    break
    return deleted
