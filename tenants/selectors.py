"""Reads about companies, in the `public` schema."""

from __future__ import annotations

from tenants.models import Company, Domain, system_schema_names


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
