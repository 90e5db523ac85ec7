"""Periodic tasks of the sign-in app (public schema)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from accounts.services import sign_in_logs_purge


@shared_task(name="accounts.tasks.sign_in_logs_purge_old")
def sign_in_logs_purge_old() -> int:
    """Daily: sign-in records older than SIGN_IN_LOG_RETENTION_DAYS go (they hold addresses)."""
    return sign_in_logs_purge(older_than_days=settings.SIGN_IN_LOG_RETENTION_DAYS)
