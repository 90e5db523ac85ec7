"""The bucket counts' trigger plans its statements once per session instead of on every write.

0005's trigger function built each statement with `format()` and ran it with EXECUTE, so that
it never depends on search_path: PostgreSQL parsed and planned the bucket upsert again on
every member INSERT, most of what the trigger cost and a large share of a SCIM create's time
in the database. A static statement is planned once per session and function (each company's
schema has its own copy of the function) and planned again when search_path changes; its
unqualified table is found through search_path. So the function runs the static statements
when the session's schema is the table's own, which is every write the application makes
(routing sets search_path to the company's schema), and the qualified EXECUTE otherwise (a
write from another schema's session: support tooling, a company's deletion, a test's raw SQL).
The function still holds no schema name, so companies cloned from the base schema get working
copies.
"""

import importlib

from django.db import migrations

PLANNED_ONCE = """
CREATE OR REPLACE FUNCTION directory_member_buckets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Bucket rows are locked in bucket order, so concurrent writes spanning several buckets
  -- cannot deadlock. A count can never go negative (CHECK constraint): it would fail loudly.
  IF TG_OP = 'INSERT' AND TG_TABLE_SCHEMA = current_schema() THEN
    INSERT INTO directory_memberbucket AS b (bucket, members)
      SELECT seq / 1024, count(*) FROM added GROUP BY 1 ORDER BY 1
      ON CONFLICT (bucket) DO UPDATE SET members = b.members + excluded.members;
  ELSIF TG_OP = 'INSERT' THEN
    EXECUTE format(
      'INSERT INTO %I.directory_memberbucket AS b (bucket, members) '
      'SELECT seq / 1024, count(*) FROM added GROUP BY 1 ORDER BY 1 '
      'ON CONFLICT (bucket) DO UPDATE SET members = b.members + excluded.members',
      TG_TABLE_SCHEMA);
  ELSIF TG_OP = 'DELETE' AND TG_TABLE_SCHEMA = current_schema() THEN
    PERFORM 1 FROM directory_memberbucket
      WHERE bucket IN (SELECT seq / 1024 FROM removed) ORDER BY bucket FOR UPDATE;
    UPDATE directory_memberbucket AS b SET members = b.members - gone.n
      FROM (SELECT seq / 1024 AS bucket, count(*) AS n FROM removed GROUP BY 1) AS gone
      WHERE b.bucket = gone.bucket;
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE format(
      'SELECT 1 FROM %I.directory_memberbucket '
      'WHERE bucket IN (SELECT seq / 1024 FROM removed) ORDER BY bucket FOR UPDATE',
      TG_TABLE_SCHEMA);
    EXECUTE format(
      'UPDATE %I.directory_memberbucket AS b SET members = b.members - gone.n '
      'FROM (SELECT seq / 1024 AS bucket, count(*) AS n FROM removed GROUP BY 1) AS gone '
      'WHERE b.bucket = gone.bucket',
      TG_TABLE_SCHEMA);
  ELSE
    EXECUTE format('DELETE FROM %I.directory_memberbucket', TG_TABLE_SCHEMA);
  END IF;
  RETURN NULL;
END
$$;
"""

# Undoing this migration puts 0005's function back as it was.
_FIRST = importlib.import_module("directory.migrations.0005_member_seq_buckets")
_BEGIN = _FIRST.TRIGGERS_FORWARD.index("CREATE FUNCTION directory_member_buckets()")
_END = _FIRST.TRIGGERS_FORWARD.index("$$;", _BEGIN) + len("$$;")
PLANNED_EACH_TIME = _FIRST.TRIGGERS_FORWARD[_BEGIN:_END].replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1
)


class Migration(migrations.Migration):
    dependencies = [("directory", "0017_member_email_one_index")]

    operations = [migrations.RunSQL(PLANNED_ONCE, PLANNED_EACH_TIME)]
