"""Each audit row keeps the display prefix its credential had when it happened, so a Basic
secret regenerated later does not rewrite the earlier rows.

Filled in for the rows whose prefix is known: a token's never changes, and a Basic pair's
current one is right from its latest regeneration on. Rows of a Basic pair from before a
regeneration stay empty (the prefix then was not kept), and the portal says it was an
earlier secret. The wrong "Basic credentials Basic credentials" actor of first-use rows is
said once, as new rows say it."""

from django.db import migrations, models

FILL = """
UPDATE tokens_credentialevent AS event SET display_prefix = credential.display_prefix
FROM tokens_credential AS credential
WHERE event.credential_id = credential.id
  AND credential.display_prefix <> ''
  AND NOT EXISTS (
    SELECT FROM tokens_credentialevent AS later
    WHERE later.credential_id = event.credential_id
      AND later.action = 'regenerated'
      AND (later.created_at, later.id) > (event.created_at, event.id)
  )
"""

ACTOR = """
UPDATE tokens_credentialevent SET actor = 'Basic credentials'
WHERE action = 'first_used' AND actor = 'Basic credentials Basic credentials'
"""


class Migration(migrations.Migration):
    dependencies = [("tokens", "0004_probe_credentials")]

    operations = [
        migrations.AddField(
            model_name="credentialevent",
            name="display_prefix",
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(ACTOR, reverse_sql=migrations.RunSQL.noop),
    ]
