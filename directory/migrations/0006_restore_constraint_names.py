"""Companies cloned before tenants.schema_clone existed have UNIQUE constraints under
PostgreSQL's default names; give them the base schema's names (see that module). Runs in
every company schema; a no-op in the base schema and for companies cloned since."""

from django.conf import settings
from django.db import migrations


def restore(apps, schema_editor):
    from tenants.schema_clone import restore_constraint_names

    schema = schema_editor.connection.schema_name
    if schema != settings.PUBLIC_SCHEMA_NAME:
        restore_constraint_names(schema, settings.TENANT_BASE_SCHEMA)


class Migration(migrations.Migration):
    dependencies = [("directory", "0005_member_seq_buckets")]

    operations = [migrations.RunPython(restore, migrations.RunPython.noop)]
