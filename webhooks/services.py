"""Writes of webhook endpoints: add, change, rotate the secret, resend a delivery, resume a
paused company stream."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from events.outbox import EventType
from tenants.models import Company
from webhooks.delivery import deliveries_abandon, deliveries_resume
from webhooks.models import WebhookCursor, WebhookDelivery, WebhookEndpoint
from webhooks.secrets import encrypt, secret_new
from webhooks.transport import UnsafeURL, resolve_checked


class WebhookError(ValueError):
    """Bad input for an endpoint: the message is for the person who typed it."""


@dataclass(frozen=True)
class IssuedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once


# A new endpoint starts at each company's current position: it is sent what happens from now
# on, not the retained history (the events API serves that).
_START_SQL = """
INSERT INTO public.webhooks_webhookcursor (endpoint_id, schema_name, delivered_seq)
SELECT %s, s.schema_name, s.last_seq FROM public.events_feed_eventstream AS s
WHERE %s::text IS NULL OR s.schema_name = %s
ON CONFLICT (endpoint_id, schema_name) DO NOTHING
"""


URL_MAX_LENGTH = WebhookEndpoint._meta.get_field("url").max_length or 0


def url_check(url: str) -> None:
    if len(url) > URL_MAX_LENGTH:
        raise WebhookError(
            f"The URL can be at most {URL_MAX_LENGTH} characters; this one has {len(url)}."
        )
    try:
        resolve_checked(url)
    except UnsafeURL as error:
        raise WebhookError(str(error)) from error


def event_types_check(event_types: Sequence[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EventType.ALL))
    if unknown:
        raise WebhookError(f"Unknown event types: {', '.join(unknown)}.")
    return [kind for kind in EventType.ALL if kind in event_types]


def endpoint_add(
    *,
    url: str,
    actor: str,
    company: Company | None = None,
    event_types: Sequence[str] = (),
    format: str = WebhookEndpoint.Format.STANDARD,
) -> IssuedEndpoint:
    url_check(url)
    if format not in WebhookEndpoint.Format.values:
        raise WebhookError(f"Unknown format {format!r}: standard or set.")
    secret = secret_new()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url,
            company=company,
            event_types=event_types_check(event_types),
            format=format,
            secret_encrypted=encrypt(secret),
            created_by=actor,
        )
        schema = company.schema_name if company else None
        with connection.cursor() as cursor:
            cursor.execute(_START_SQL, [endpoint.pk, schema, schema])
    return IssuedEndpoint(endpoint, secret)


def secret_rotate(endpoint: WebhookEndpoint, *, grace: dt.timedelta | None = None) -> str:
    """A new secret signs from now on; the current one keeps signing alongside it for `grace`
    (WEBHOOK_ROTATION_GRACE_HOURS), so the consumer can switch without losing a delivery."""
    grace = (
        grace if grace is not None else dt.timedelta(hours=settings.WEBHOOK_ROTATION_GRACE_HOURS)
    )
    secret = secret_new()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret_encrypted = locked.secret_encrypted
        locked.previous_secret_until = timezone.now() + grace
        locked.secret_encrypted = encrypt(secret)
        locked.save(
            update_fields=["previous_secret_encrypted", "previous_secret_until", "secret_encrypted"]
        )
    endpoint.refresh_from_db()
    return secret


def delivery_resend(delivery: WebhookDelivery) -> None:
    """Send this event again. A pending retry is made due now (the sweeper takes it on its next
    round, in order); a delivered one is rewound: its stream re-sends from it, in order, with the
    same `webhook-id`s (consumers de-duplicate). While the endpoint is disabled or the stream
    paused the stream is rewound all the same, and the row says Abandoned until it resumes."""
    with transaction.atomic():
        cursor = WebhookCursor.objects.select_for_update().get(
            endpoint_id=delivery.endpoint_id, schema_name=delivery.schema_name
        )
        endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
        if not endpoint.enabled or cursor.paused_at is not None:
            stopped = (
                f"endpoint disabled: {endpoint.disabled_reason}"
                if not endpoint.enabled
                else f"stream paused: {cursor.paused_reason}"
            )
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=WebhookDelivery.Status.ABANDONED, next_attempt_at=None, note=stopped[:300]
            )
        else:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=WebhookDelivery.Status.RETRYING, next_attempt_at=timezone.now(), note=""
            )
        cursor.delivered_seq = min(cursor.delivered_seq, delivery.seq - 1)
        cursor.resends += 1
        cursor.retry_at = None
        cursor.save(update_fields=["delivered_seq", "resends", "retry_at"])


def endpoint_update(
    endpoint: WebhookEndpoint,
    *,
    url: str,
    event_types: Sequence[str],
    format: str,
    enabled: bool,
) -> None:
    """Change an endpoint. Enabling a disabled one clears its failure record: delivery resumes
    where it stopped (its events waited in the outboxes), its abandoned log rows Retrying
    again; disabling one marks its Retrying rows Abandoned. New event types apply to events
    queued from now on: each stream's backlog keeps the types it was queued under."""
    url_check(url)
    types = event_types_check(event_types)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if types != locked.event_types:
            with connection.cursor() as cursor:
                cursor.execute(_TYPES_CHANGED_SQL, [json.dumps(locked.event_types), locked.pk])
        locked.url, locked.event_types, locked.format = url, types, format
        if enabled and not locked.enabled:
            locked.failing_since = locked.disabled_at = None
            locked.disabled_reason = ""
            # Retries were backing off; the endpoint is back, so try now. Its streams' failures
            # start again from nothing too; a paused stream stays paused (stream_resume).
            WebhookCursor.objects.filter(endpoint=locked).update(retry_at=None, failing_since=None)
            deliveries_resume(locked.pk)
        elif not enabled and locked.enabled:
            locked.disabled_at = timezone.now()
            locked.disabled_reason = "disabled by support"
            deliveries_abandon(locked.pk, note="endpoint disabled: disabled by support")
        locked.enabled = enabled
        locked.save()
    endpoint.refresh_from_db()


# Each stream with a backlog remembers the types that backlog was queued under, up to the
# stream's last committed event: a vendor narrowing or widening the types expects the change
# to apply from now on, not to events already waiting for its endpoint.
_TYPES_CHANGED_SQL = """
UPDATE public.webhooks_webhookcursor AS k
SET types_before = COALESCE(k.types_before, '[]'::jsonb)
                   || jsonb_build_array(jsonb_build_array(s.last_seq, %s::jsonb))
FROM public.events_feed_eventstream AS s
WHERE k.endpoint_id = %s AND s.schema_name = k.schema_name AND s.last_seq > k.delivered_seq
"""


def stream_resume(cursor: WebhookCursor) -> None:
    """Deliver a paused company stream again, from where it stopped, at once; its failure
    record starts again from nothing."""
    with transaction.atomic():
        WebhookCursor.objects.filter(pk=cursor.pk).update(
            paused_at=None, paused_reason="", failing_since=None, retry_at=None
        )
        deliveries_resume(cursor.endpoint_id, schema_name=cursor.schema_name)
    cursor.refresh_from_db()
