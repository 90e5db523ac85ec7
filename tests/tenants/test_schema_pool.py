"""Company schemas cloned ahead of time: creating a company renames one instead of cloning,
the company works exactly like a cloned one, and a pooled schema older than the base
schema's migrations is never used."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from directory.models import Member, MemberBucket
from tenants.models import Company, SchemaPoolEntry
from tenants.schema_pool import pool_fill
from tenants.services import company_create
from tests.scim_client import Scim, okta_user
from tests.tenants.test_company_create_constraints import constraints
from tokens.services import token_issue


def test_a_new_company_takes_a_pooled_schema_and_works(db: None, client) -> None:  # type: ignore[no-untyped-def]
    assert pool_fill(2) == 2
    pooled = list(
        SchemaPoolEntry.objects.order_by("created_at").values_list("schema_name", flat=True)
    )

    company = company_create(slug="pooled-co", name="Pooled Co", scim_enabled=True, actor="tests")

    # The oldest pooled schema became the company's; the other one is still waiting.
    assert not schema_exists(pooled[0]) and schema_exists(company.schema_name)
    assert list(SchemaPoolEntry.objects.values_list("schema_name", flat=True)) == pooled[1:]
    assert constraints(company.schema_name) == constraints(settings.TENANT_BASE_SCHEMA)
    with schema_context(company.schema_name):
        token = token_issue(company=company, name="Okta", actor="tests").secret
    api = Scim(client, token, base="/t/pooled-co/scim/v2")
    created = api.post("/Users", okta_user("first@pooled.test"))
    assert created.status_code == 201
    assert api.get(f"/Users/{created.json()['id']}").status_code == 200
    connection.set_schema_to_public()
    with schema_context(company.schema_name):
        # The triggers that count members for paging work under the new schema name.
        assert Member.objects.count() == 1
        assert sum(MemberBucket.objects.values_list("members", flat=True)) == 1


def test_a_pooled_schema_from_before_a_migration_is_never_used(db: None) -> None:
    pool_fill(1)
    SchemaPoolEntry.objects.update(fingerprint="migrations-of-last-week")
    (stale,) = SchemaPoolEntry.objects.values_list("schema_name", flat=True)

    company = company_create(slug="fresh-co", name="Fresh Co", actor="tests")
    refilled = pool_fill(1)

    # The company was cloned on the spot; the filler dropped the stale schema and made a new one.
    assert schema_exists(company.schema_name) and refilled == 1
    assert not schema_exists(stale)
    assert SchemaPoolEntry.objects.exclude(schema_name=stale).count() == 1


def test_a_slug_whose_old_schema_remains_is_refused(db: None) -> None:
    import pytest
    from django.core.exceptions import ValidationError

    company = company_create(slug="gone-co", name="Gone Co", actor="tests")
    Company.objects.filter(pk=company.pk).delete()  # the schema stays (auto_drop_schema off)

    with pytest.raises(ValidationError) as refused:
        company_create(slug="gone-co", name="Gone Again", actor="tests")

    assert "still exists" in str(refused.value)
