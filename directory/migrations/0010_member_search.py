"""Infix search on the portal's Members page: one GIN trigram index over every field a
person searches by (directory.portal_selectors.member_search_text() is the same expression;
tests/directory/test_member_search.py checks that the planner matches them).

pg_trgm is created in `public`, which is on every company's search_path: created without a
schema it would land in the first company migrated (its schema leads the path) and vanish
from the others. When the database already has pg_trgm in another schema (managed
PostgreSQL often keeps extensions in `extensions`), the index names the operator class in
that schema, so the search_path need not include it: the LIKE operators the search uses are
PostgreSQL's own."""

from django.db import migrations

EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"

# The expression (text columns are NOT NULL; title and department may be absent from the
# stored resource), with its quotes doubled: it is a string inside the DO block.
INDEX = """
DO $$
DECLARE
    trgm_schema text := (
        SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm'
    );
BEGIN
    EXECUTE format(
        'CREATE INDEX member_search_trgm ON directory_member USING gin (('
        'lower(user_name || '' '' || display_name || '' '' || given_name'
        ' || '' '' || family_name || '' '' || primary_email'
        ' || '' '' || coalesce(attributes ->> ''title'', '''')'
        ' || '' '' || coalesce(attributes #>> '
        '''{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,department}'', ''''))'
        ') %I.gin_trgm_ops)',
        trgm_schema
    );
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("directory", "0009_ledger_warnings")]

    operations = [
        # Kept on reverse: other schemas' indexes use it.
        migrations.RunSQL(EXTENSION, migrations.RunSQL.noop),
        migrations.RunSQL(INDEX, "DROP INDEX member_search_trgm"),
    ]
