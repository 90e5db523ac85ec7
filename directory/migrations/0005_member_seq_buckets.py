"""Paging by position without OFFSET over the whole table (issue #7).

`Member.seq` is a per-company sequence number, backfilled here in the old paging order
(created_at, id). `MemberBucket` counts members per block of 1,024 seq values; statement-level
triggers with transition tables keep it in the transaction of every INSERT (including COPY and
bulk inserts), DELETE (including cascades) and TRUNCATE on directory_member. The functions
qualify the bucket table with the trigger's own schema, so they never depend on search_path,
and they hold no schema name, so a company cloned from the base schema gets working copies.
"""

from django.db import migrations, models

import directory.models

SEQ_FORWARD = """
CREATE SEQUENCE directory_member_seq;
ALTER TABLE directory_member ADD COLUMN seq bigint;
UPDATE directory_member m SET seq = o.n
  FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM directory_member) o
  WHERE m.id = o.id;
SELECT setval('directory_member_seq', (SELECT coalesce(max(seq), 0) + 1 FROM directory_member), false);
ALTER TABLE directory_member
  ALTER COLUMN seq SET DEFAULT nextval('directory_member_seq'),
  ALTER COLUMN seq SET NOT NULL;
ALTER SEQUENCE directory_member_seq OWNED BY directory_member.seq;
"""

SEQ_BACKWARD = "ALTER TABLE directory_member DROP COLUMN seq"  # drops the owned sequence too

TRIGGERS_FORWARD = """
INSERT INTO directory_memberbucket (bucket, members)
  SELECT seq / 1024, count(*) FROM directory_member GROUP BY 1;

CREATE FUNCTION directory_member_buckets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Bucket rows are locked in bucket order, so concurrent writes spanning several buckets
  -- cannot deadlock. A count can never go negative (CHECK constraint): it would fail loudly.
  IF TG_OP = 'INSERT' THEN
    EXECUTE format(
      'INSERT INTO %I.directory_memberbucket AS b (bucket, members) '
      'SELECT seq / 1024, count(*) FROM added GROUP BY 1 ORDER BY 1 '
      'ON CONFLICT (bucket) DO UPDATE SET members = b.members + excluded.members',
      TG_TABLE_SCHEMA);
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

CREATE FUNCTION directory_member_seq_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'directory_member.seq never changes (member %)', OLD.id
    USING ERRCODE = 'check_violation';
END
$$;

CREATE TRIGGER member_buckets_insert AFTER INSERT ON directory_member
  REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION directory_member_buckets();
CREATE TRIGGER member_buckets_delete AFTER DELETE ON directory_member
  REFERENCING OLD TABLE AS removed
  FOR EACH STATEMENT EXECUTE FUNCTION directory_member_buckets();
CREATE TRIGGER member_buckets_truncate AFTER TRUNCATE ON directory_member
  FOR EACH STATEMENT EXECUTE FUNCTION directory_member_buckets();
CREATE TRIGGER member_seq_fixed BEFORE UPDATE OF seq ON directory_member
  FOR EACH ROW WHEN (NEW.seq IS DISTINCT FROM OLD.seq)
  EXECUTE FUNCTION directory_member_seq_fixed();
"""

TRIGGERS_BACKWARD = """
DROP TRIGGER member_seq_fixed ON directory_member;
DROP TRIGGER member_buckets_truncate ON directory_member;
DROP TRIGGER member_buckets_delete ON directory_member;
DROP TRIGGER member_buckets_insert ON directory_member;
DROP FUNCTION directory_member_seq_fixed();
DROP FUNCTION directory_member_buckets();
DELETE FROM directory_memberbucket;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0004_ledger_exports"),
    ]

    operations = [
        migrations.CreateModel(
            name="MemberBucket",
            fields=[
                ("bucket", models.BigIntegerField(primary_key=True, serialize=False)),
                ("members", models.IntegerField()),
            ],
        ),
        migrations.AddConstraint(
            model_name="memberbucket",
            constraint=models.CheckConstraint(
                condition=models.Q(("members__gte", 0)), name="memberbucket_not_negative"
            ),
        ),
        migrations.RemoveIndex(
            model_name="member",
            name="member_active_page",
        ),
        # Django would add the column with its volatile default, numbering rows in physical
        # order; the backfill numbers them in the order lists had so far.
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(SEQ_FORWARD, SEQ_BACKWARD)],
            state_operations=[
                migrations.AddField(
                    model_name="member",
                    name="seq",
                    field=models.BigIntegerField(
                        db_default=directory.models.NextValue(models.Value("directory_member_seq")),
                        editable=False,
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="member",
            index=models.Index(fields=["active", "seq"], name="member_active_seq"),
        ),
        migrations.AddConstraint(
            model_name="member",
            constraint=models.UniqueConstraint(models.F("seq"), name="member_seq_unique"),
        ),
        migrations.RunSQL(TRIGGERS_FORWARD, TRIGGERS_BACKWARD),
    ]
