"""Reads about companies, in the `public` schema."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Max
from django.db.models.functions import TruncDate
from django.utils import timezone

from tenants.models import Company, Domain, SeatUsage, system_schema_names


def company_for_slug(slug: str) -> Company | None:
    """The customer company served at /t/<slug>/, or None (also for the system schemas'
    routes: they serve no company)."""
    route = (
        Domain.objects.select_related("tenant")
        .filter(domain=slug)
        .exclude(tenant__schema_name__in=system_schema_names())
        .first()
    )
    return route.tenant if route is not None else None


@dataclass(frozen=True)
class DaySeats:
    """The most seats a company used on one day (UTC) by the periodic seat check's
    snapshots, and its seat limit then (None: unlimited)."""

    day: dt.date
    seats_used: int
    seat_limit: int | None


def seat_usage_by_day(company: Company, days: int = 30) -> list[DaySeats]:
    """The company's seat snapshots of the last `days` days (UTC, today included), one per day
    that has any,
    oldest first: one grouped query over the (company, created_at) index."""
    first = timezone.now().astimezone(dt.UTC).date() - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
    rows = (
        SeatUsage.objects.filter(company=company, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(used=Max("seats_used"), limit=Max("seat_limit"))
        .order_by("day")
    )
    return [DaySeats(row["day"], row["used"], row["limit"]) for row in rows]
