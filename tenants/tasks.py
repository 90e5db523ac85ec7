"""Periodic tasks about companies."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tenants.tasks.schema_pool_fill")
def schema_pool_fill() -> int:
    """Keep SCHEMA_POOL_SIZE company schemas cloned ahead of time (tenants.schema_pool)."""
    from tenants.schema_pool import pool_fill

    return pool_fill()
