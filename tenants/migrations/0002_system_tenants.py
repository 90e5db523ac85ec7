"""The two Company rows django-tenants needs that are not customers.

- `public`: subfolder routing resolves every non-`/t/` request to it.
- `tenant_base`: the pre-migrated schema new companies are cloned from. Being a tenant row,
  `migrate_schemas` keeps it migrated like every company, so a clone is never behind.
"""

from django.conf import settings
from django.db import migrations


def create_system_tenants(apps, schema_editor):
    Company = apps.get_model("tenants", "Company")
    Company.objects.get_or_create(
        schema_name=settings.PUBLIC_SCHEMA_NAME,
        defaults={"slug": "public", "name": "Headcount (public schema)"},
    )
    Company.objects.get_or_create(
        schema_name=settings.TENANT_BASE_SCHEMA,
        defaults={"slug": "tenant-base", "name": "Headcount (base schema for new companies)"},
    )
    schema_editor.execute(
        f"CREATE SCHEMA IF NOT EXISTS {schema_editor.quote_name(settings.TENANT_BASE_SCHEMA)}"
    )


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [migrations.RunPython(create_system_tenants, migrations.RunPython.noop)]
