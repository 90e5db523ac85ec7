"""Periodic tasks of the credentials app."""

from __future__ import annotations

from celery import shared_task
from django_tenants.utils import schema_context

from tenants.models import Company
from tokens.services import oauth_purge


@shared_task(name="tokens.tasks.oauth_purge_all")
def oauth_purge_all() -> int:
    """Daily: drop expired OAuth codes and tokens in every company (tokens.services)."""
    total = 0
    for schema in Company.objects.customers().values_list("schema_name", flat=True):
        with schema_context(schema):
            total += oauth_purge()
    return total
