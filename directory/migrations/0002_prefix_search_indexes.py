from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("directory", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX member_user_name_prefix ON directory_member (lower(user_name) text_pattern_ops)",
            "DROP INDEX member_user_name_prefix",
        ),
        migrations.RunSQL(
            "CREATE INDEX member_display_name_prefix ON directory_member (lower(display_name) text_pattern_ops)",
            "DROP INDEX member_display_name_prefix",
        ),
    ]
