"""The waiting reports' index holds lower(manager_ref): a manager is named by id or userName
case-insensitively, so `manager.value eq` (which folds) and the adoption of waiting reports
both read it, where `manager.value eq` read every member before.

Built before the old one goes, as in 0019: a DROP INDEX holds the table's exclusive lock to
the end of the migration's transaction."""

from django.db import migrations, models
from django.db.models.functions import Lower


class Migration(migrations.Migration):
    dependencies = [("directory", "0019_ledger_outcome_index_partial")]

    operations = [
        migrations.AddIndex(
            model_name="member",
            index=models.Index(
                Lower("manager_ref"),
                condition=models.Q(("manager_ref", ""), _negated=True),
                name="member_pending_manager_ci",
            ),
        ),
        migrations.RemoveIndex(model_name="member", name="member_pending_manager"),
    ]
