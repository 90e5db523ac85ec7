"""Searchable copies (MemberValue.value_lower and type_lower, Member.primary_email) are folded
by the database's lower(), as filters now fold what they compare them with; rows that
Python's str.lower() folded differently ("İ", a final "Σ" …) are folded again from the
stored resource. Only rows whose stored copy differs are written."""

from django.db import migrations

VALUES = """
UPDATE directory_membervalue SET value_lower = lower(left(item->>'value', 1024))
WHERE jsonb_typeof(item->'value') = 'string'
  AND value_lower IS DISTINCT FROM lower(left(item->>'value', 1024));
UPDATE directory_membervalue SET type_lower = lower(left(item->>'type', 64))
WHERE jsonb_typeof(item->'type') = 'string'
  AND type_lower IS DISTINCT FROM lower(left(item->>'type', 64));
"""

# The primary email, else the first one (scim_protocol.user_input.primary_email), folded.
PRIMARY_EMAIL = """
UPDATE directory_member AS m SET primary_email = lower(left(chosen.value, 320))
FROM (
    SELECT id, (
        SELECT e->>'value'
        FROM jsonb_array_elements(attributes->'emails') WITH ORDINALITY AS t(e, n)
        WHERE jsonb_typeof(e) = 'object' AND jsonb_typeof(e->'value') = 'string'
          AND e->>'value' <> ''
        ORDER BY coalesce(e->'primary' = 'true'::jsonb, false) DESC, n
        LIMIT 1
    ) AS value
    FROM directory_member
    WHERE jsonb_typeof(attributes->'emails') = 'array'
) AS chosen
WHERE m.id = chosen.id AND chosen.value IS NOT NULL
  AND m.primary_email IS DISTINCT FROM lower(left(chosen.value, 320));
"""


class Migration(migrations.Migration):
    dependencies = [("directory", "0006_restore_constraint_names")]

    operations = [
        migrations.RunSQL(VALUES, migrations.RunSQL.noop),
        migrations.RunSQL(PRIMARY_EMAIL, migrations.RunSQL.noop),
    ]
