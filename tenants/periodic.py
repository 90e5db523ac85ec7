"""The one per-company runner of periodic jobs (retention, exports, the seat check)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django_tenants.utils import schema_context

from tenants.models import Company

T = TypeVar("T")


def for_each_company(job: Callable[[Company], T]) -> list[T]:
    """`job(company)` for every customer company (Company.objects.customers(), slug order),
    inside the company's schema; the results in that order. The companies are read first, so
    no cursor stays open across schema switches. A failure stops the run, as before: the next
    beat runs them all again."""
    companies = list(Company.objects.customers().order_by("slug"))
    results = []
    for company in companies:
        with schema_context(company.schema_name):
            results.append(job(company))
    return results
