"""Periodic tasks about companies."""

from __future__ import annotations

from celery import shared_task

from tenants.models import Company
from tenants.seat_check import company_seat_check


@shared_task(name="tenants.tasks.seat_check_all")
def seat_check_all() -> dict[str, int]:
    """Run the seat check for every company; returns how many are at each level."""
    levels: dict[str, int] = {}
    for company in Company.objects.customers().iterator():
        level = company_seat_check(company)
        levels[level] = levels.get(level, 0) + 1
    return levels


@shared_task(name="tenants.tasks.schema_pool_fill")
def schema_pool_fill() -> int:
    """Keep SCHEMA_POOL_SIZE company schemas cloned ahead of time (tenants.schema_pool)."""
    from tenants.schema_pool import pool_fill

    return pool_fill()
