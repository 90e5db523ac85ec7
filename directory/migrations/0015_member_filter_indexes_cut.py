"""The department and title indexes hold a value's first 200 characters
(directory.models.FILTER_VALUE_CHARS): an index of the whole value refused the write of a
person whose title or department is longer than a B-tree entry (2.7 kB). Rebuilt under the
same names, so a database that built them from 0014 before the cut gets the cut ones."""

from django.db import migrations, models

import directory.models


def _indexes() -> list[models.Index]:
    return [
        models.Index(
            directory.models.MemberDepartment("attributes"),
            models.F("created_at"),
            models.F("id"),
            name="member_department",
        ),
        models.Index(
            directory.models.MemberTitle("attributes"),
            models.F("created_at"),
            models.F("id"),
            name="member_title",
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0014_member_department_title_indexes"),
    ]

    operations = [
        *(migrations.RemoveIndex(model_name="member", name=index.name) for index in _indexes()),
        *(migrations.AddIndex(model_name="member", index=index) for index in _indexes()),
    ]
