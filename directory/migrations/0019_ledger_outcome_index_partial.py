"""The ledger's outcome index holds only the rows that did not succeed: every read that
filters on outcome names failed or held (the log's and the export's failures, the brake's
held requests, support's recent failures), and every successful write, most of the rows,
paid for an entry no read used.

Built before the old one goes: a DROP INDEX holds the table's exclusive lock to the end of
the migration's transaction, so a build after it would keep every read of the ledger
waiting too (as in 0016)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("directory", "0018_member_buckets_planned_once")]

    operations = [
        migrations.AddIndex(
            model_name="provisioningevent",
            index=models.Index(
                condition=models.Q(("outcome", "succeeded"), _negated=True),
                fields=["outcome", "-created_at"],
                name="provisioning_not_succeeded",
            ),
        ),
        migrations.RemoveIndex(
            model_name="provisioningevent",
            name="provisioning_outcome_recent",
        ),
    ]
