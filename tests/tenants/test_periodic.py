"""The per-company runner every periodic job uses: each customer company once, in its schema."""

from __future__ import annotations

from django.db import connection

from tenants.models import Company
from tenants.periodic import for_each_company


def test_runs_the_job_once_per_customer_company_in_its_schema(db: None) -> None:
    customers = list(Company.objects.customers().order_by("slug"))

    seen = for_each_company(lambda company: (company.slug, connection.schema_name))

    assert seen == [(company.slug, company.schema_name) for company in customers]
    assert len(seen) >= 2  # acme and outsider, created for the session
    assert connection.schema_name == "public"
