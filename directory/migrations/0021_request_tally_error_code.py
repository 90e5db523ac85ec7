"""Which of Headcount's own refusals a tally row was (a seat limit, a read-only token, SCIM
switched off, a suspension), so the portal diagnoses the refusal that happened instead of
guessing from the status. Rows written before read as unknown, and say so."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("directory", "0020_member_pending_manager_ci")]

    operations = [
        migrations.AddField(
            model_name="requesttally",
            name="error_code",
            field=models.CharField(blank=True, max_length=32),
        ),
    ]
