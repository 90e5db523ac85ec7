"""The delivery log tells the truth: rows of a disabled endpoint or paused stream are
Abandoned, rows passed over on purpose Skipped, each with a `note` saying why; each cursor
keeps the event types in force for its backlog when an endpoint's types change. A database
default for the note and a nullable history, so raw INSERTs need not name them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0003_cursor_failing_paused")]

    operations = [
        migrations.AddField(
            model_name="webhookcursor",
            name="types_before",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="note",
            field=models.CharField(blank=True, db_default="", default="", max_length=300),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="status",
            field=models.CharField(
                choices=[
                    ("retrying", "Retrying"),
                    ("delivered", "Delivered"),
                    ("abandoned", "Abandoned (endpoint disabled or stream paused)"),
                    ("skipped", "Skipped"),
                ],
                default="retrying",
                max_length=16,
            ),
        ),
    ]
