"""Celery tasks of webhook delivery. Names are pinned (docs/architecture.md)."""

from __future__ import annotations

import uuid
from typing import Any

from celery import shared_task
from django.conf import settings

from webhooks.delivery import deliver_stream, streams_due, streams_kicked
from webhooks.delivery import log_purge as purge


# acks_late (the project default) and a stream lock that dies with the worker's connection:
# a worker killed mid-delivery leaves the stream to the next sweep, which re-sends the event
# that was in flight (at least once).
@shared_task(name="webhooks.tasks.deliver", ignore_result=True, acks_late=True)
def deliver(endpoint_id: str, schema_name: str) -> bool:
    return deliver_stream(uuid.UUID(endpoint_id), schema_name)


@shared_task(name="webhooks.tasks.sweep", ignore_result=True, bind=True)
def sweep(self: Any) -> int:
    """Hand every stream that is behind and due to a worker (beat: every
    WEBHOOK_SWEEP_SECONDS). Deliveries go to the queue the sweep came from."""
    queue = (self.request.delivery_info or {}).get("routing_key") or None
    streams = streams_due()
    # Marked before they are sent: a worker that finishes a stream clears its mark, and a mark
    # written after that would keep the stream waiting for WEBHOOK_KICK_SECONDS. A stream
    # whose message is lost (broker down) is due again once its mark is that old.
    streams_kicked(streams)
    for endpoint_id, schema_name in streams:
        deliver.apply_async(args=[str(endpoint_id), schema_name], queue=queue)
    return len(streams)


@shared_task(name="webhooks.tasks.log_purge", ignore_result=True)
def log_purge() -> int:
    """Drop the delivery log's rows older than WEBHOOK_LOG_RETENTION_DAYS that nothing will
    send again: delivered and skipped ones, and abandoned ones whose event is gone too (beat:
    daily). Rows still retrying stay."""
    return purge(settings.WEBHOOK_LOG_RETENTION_DAYS)
