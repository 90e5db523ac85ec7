"""Celery tasks of the events: the relay into the public feed and retention. Both run in
`public` and name every company table with its schema."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from events.relay import relay_until_idle
from events.retention import events_purge


@shared_task(name="events.tasks.relay", ignore_result=True)
def relay() -> int:
    """Copy new company events into the feed (beat: every EVENTS_RELAY_SECONDS)."""
    return relay_until_idle()


@shared_task(name="events.tasks.purge")
def purge() -> int:
    """Retention: drop events older than EVENT_RETENTION_DAYS (beat: daily)."""
    return events_purge(settings.EVENT_RETENTION_DAYS)
