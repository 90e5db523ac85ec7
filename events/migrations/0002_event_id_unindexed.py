"""The outbox's unique index on the event id goes: nothing reads the outbox by id (the relay,
the vendor API and webhook delivery follow seq), and every write of a change paid for it.
The feed's unique index on the same id (events_feed_feedevent) still refuses a repeat."""

import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("events", "0001_change_events")]

    operations = [
        migrations.AlterField(
            model_name="changeevent",
            name="id",
            field=models.UUIDField(default=uuid.uuid4, editable=False),
        ),
    ]
