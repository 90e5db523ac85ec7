"""Failure per (endpoint, company) stream: a company whose events an endpoint refuses while it
takes the others' was never disabled (any success cleared the endpoint's `failing_since`).
Nullable columns and a database default, so the cursors' raw INSERTs need not name them and
adding them rewrites nothing."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0002_cursor_resends")]

    operations = [
        migrations.AlterModelOptions(
            name="webhookcursor", options={"verbose_name": "webhook stream"}
        ),
        migrations.AddField(
            model_name="webhookcursor",
            name="failing_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webhookcursor",
            name="paused_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webhookcursor",
            name="paused_reason",
            field=models.CharField(blank=True, db_default="", default="", max_length=300),
        ),
    ]
