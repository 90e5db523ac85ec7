"""The Members page's exact department and title filters: an index on each stored value
(directory.models.MemberDepartment, MemberTitle). The value leads, so the same index lists
the distinct values by a skip scan (directory.portal_selectors.member_filter_choices);
created_at, id follow, the page's default order. A CREATE INDEX each, in proportion to the
company's members (docs/performance.md, "Exact department and title filters")."""

from django.db import migrations, models

import directory.models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0013_ledger_normalised"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="member",
            index=models.Index(
                directory.models.MemberDepartment("attributes"),
                models.F("created_at"),
                models.F("id"),
                name="member_department",
            ),
        ),
        migrations.AddIndex(
            model_name="member",
            index=models.Index(
                directory.models.MemberTitle("attributes"),
                models.F("created_at"),
                models.F("id"),
                name="member_title",
            ),
        ),
    ]
