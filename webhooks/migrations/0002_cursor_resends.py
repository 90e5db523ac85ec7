"""A count of resends on each webhook cursor: a run compares it, with the position, before it
moves the cursor, so a resend that left the position as it was is not written over. A
database default, so the cursors' raw INSERTs (new endpoints, the sweeper) need not name it,
and adding the column rewrites nothing."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_webhooks")]

    operations = [
        migrations.AddField(
            model_name="webhookcursor",
            name="resends",
            field=models.BigIntegerField(db_default=0, default=0),
        ),
    ]
