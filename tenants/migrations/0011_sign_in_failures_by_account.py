"""An index on django-axes' failure records by account and time, for the account-wide sign-in
ceiling (accounts/sign_in.py), which reads an account's newest failures on every sign-in.
axes indexes the account alone, which would read every failure the account ever had (an
attack leaves many). Here because this app's migrations run in `public` only, where axes'
tables live."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0010_portal_login_history"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX sign_in_failures_by_account "
            "ON axes_accessfailurelog (username, attempt_time)",
            "DROP INDEX sign_in_failures_by_account",
        )
    ]
