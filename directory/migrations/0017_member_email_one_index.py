"""One index of the member's email instead of two. Only the portal's Members page reads it:
its email sort read member_primary_email (the default opclass: the database's collation) and
its one- and two-character search member_email_prefix (varchar_pattern_ops: LIKE 'ab%' under
any collation). An index in byte order (COLLATE "C") serves both, so each member write adds
one entry where it added two. The email is stored folded, so byte order sorts it as a person
expects; the queries name the same collation (directory.portal_selectors.MEMBER_EMAIL)."""

from django.db import migrations, models
from django.db.models.functions import Collate


class Migration(migrations.Migration):
    dependencies = [("directory", "0016_write_indexes_cut")]

    operations = [
        # Built first: the drops hold the table's exclusive lock to the end of the transaction.
        migrations.AddIndex(
            model_name="member",
            index=models.Index(Collate("primary_email", "C"), name="member_email"),
        ),
        migrations.RemoveIndex(model_name="member", name="member_primary_email"),
        migrations.RemoveIndex(model_name="member", name="member_email_prefix"),
    ]
