"""Periodic tasks of the credentials app."""

from __future__ import annotations

from celery import shared_task

from tenants.periodic import for_each_company
from tokens.services import oauth_purge


@shared_task(name="tokens.tasks.oauth_purge_all")
def oauth_purge_all() -> int:
    """Daily: drop expired OAuth codes and tokens in every company (tokens.services)."""
    return sum(for_each_company(lambda _company: oauth_purge()))
