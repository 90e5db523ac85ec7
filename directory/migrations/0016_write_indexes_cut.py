"""Every write pays for each index of the table it writes, and these indexes answered no read
another index does not answer as well:

- the foreign-key indexes Django adds by itself on membervalue.member_id,
  membership.member_id and membership.group_id (each the first column of a composite index:
  membervalue_member, membership_by_member, membership_unique) and on waitlistentry.member_id
  (the same as waitlist_member);
- on member.manager_id and provisioningevent.retry_of_id, an entry for every row while only
  the rows that name a manager or an original are ever looked up: partial indexes instead.

The automatic indexes are dropped by name (the same in every company schema: Django derives
it from the table and column). Not through AlterField alone: on a foreign key it drops and
re-adds the constraint, which reads every row of the table again in every company.

The partial indexes are built before the automatic ones go: a DROP INDEX holds the table's
exclusive lock to the end of the migration's transaction, so builds after it would keep
every read of the table waiting too."""

import django.db.models.deletion
from django.db import migrations, models

# (the automatic index, its table, its column)
_AUTOMATIC = [
    ("directory_member_manager_id_9ec47fd9", "directory_member", "manager_id"),
    ("directory_membership_group_id_a4dfa938", "directory_membership", "group_id"),
    ("directory_membership_member_id_1c210f8a", "directory_membership", "member_id"),
    ("directory_membervalue_member_id_4381d847", "directory_membervalue", "member_id"),
    (
        "directory_provisioningevent_retry_of_id_41f3a6ad",
        "directory_provisioningevent",
        "retry_of_id",
    ),
    ("directory_waitlistentry_member_id_c2c03278", "directory_waitlistentry", "member_id"),
]


class Migration(migrations.Migration):
    dependencies = [("directory", "0015_member_filter_indexes_cut")]

    operations = [
        migrations.AddIndex(
            model_name="member",
            index=models.Index(
                condition=models.Q(("manager__isnull", False)),
                fields=["manager"],
                name="member_manager",
            ),
        ),
        migrations.AddIndex(
            model_name="provisioningevent",
            index=models.Index(
                condition=models.Q(("retry_of__isnull", False)),
                fields=["retry_of"],
                name="provisioning_retry_of",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="member",
                    name="manager",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="reports",
                        to="directory.member",
                    ),
                ),
                migrations.AlterField(
                    model_name="membership",
                    name="group",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="directory.group",
                    ),
                ),
                migrations.AlterField(
                    model_name="membership",
                    name="member",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="directory.member",
                    ),
                ),
                migrations.AlterField(
                    model_name="membervalue",
                    name="member",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="values",
                        to="directory.member",
                    ),
                ),
                migrations.AlterField(
                    model_name="provisioningevent",
                    name="retry_of",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="retries",
                        to="directory.provisioningevent",
                    ),
                ),
                migrations.AlterField(
                    model_name="waitlistentry",
                    name="member",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="waiting",
                        to="directory.member",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {index}",
                    f"CREATE INDEX {index} ON {table} ({column})",
                )
                for index, table, column in _AUTOMATIC
            ],
        ),
    ]
