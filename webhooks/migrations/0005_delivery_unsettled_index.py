"""An index of the delivery log's rows not delivered, so that disabling, enabling and resuming
an endpoint, and the purge of skipped and abandoned rows, do not read its whole log. Built
without blocking the log's writes: deliveries go on while it is made."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("webhooks", "0004_delivery_note_skipped")]

    operations = [
        AddIndexConcurrently(
            model_name="webhookdelivery",
            index=models.Index(
                condition=~models.Q(status="delivered"),
                fields=["endpoint", "schema_name"],
                name="webhookdelivery_unsettled",
            ),
        ),
    ]
