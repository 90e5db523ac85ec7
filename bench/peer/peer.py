"""Reference SCIM server for the benchmark: django-scim2 in its own virtualenv (issue #7).

Run with the peer's interpreter (bench/peer/setup.sh creates it):

    bench/peer/.venv/bin/python bench/peer/peer.py setup
    bench/peer/.venv/bin/python bench/peer/peer.py seed --users 100000 --groups 10 --reset
    bench/peer/.venv/bin/python bench/peer/peer.py serve --port 8100

The token is PEER_TOKEN (default peer-bench-token); the database PEER_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/headcount_peer).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_project.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import DatabaseError, connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from peer_app.models import Group, User  # noqa: E402

BATCH = 50_000


def create_database() -> None:
    """CREATE DATABASE when it is missing, through the server's `postgres` database."""
    db = settings.DATABASES["default"]
    params = {
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
        "user": db["USER"] or None,
        "password": db["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{db["NAME"]}"')
            print(f"created database {db['NAME']}")


def setup(_: argparse.Namespace) -> None:
    create_database()
    call_command("migrate", interactive=False, verbosity=0)
    # No superuser row: requests authenticate as an unsaved superuser (peer_project/auth.py),
    # since every stored user would be listed as a SCIM User.
    print(f"migrated {settings.DATABASES['default']['NAME']}")


def _copy(table: str, columns: list[str], rows: io.StringIO) -> None:
    rows.seek(0)
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        while chunk := rows.read(1 << 20):
            copy.write(chunk)


def seed(args: argparse.Namespace) -> None:
    """Headcount's bench_seed contract: users i = 1..N with userName = primary email =
    user{i}@example.com, givenName "User", familyName "{i}", active, in group "Group {i mod G}".

    Rows are written as django-scim2 itself would leave them after a POST: scim_id is the
    primary key as a string (AbstractSCIMCommonAttributesMixin.set_scim_id), scim_username
    mirrors username (SCIMUser.from_dict), scim_display_name mirrors a group's name
    (AbstractSCIMGroupMixin.set_scim_display_name). Keeping scim_id == str(id) also matters to
    the default SCIMGroup adapter, which adds and removes members by int(member["value"]).
    """
    users, groups = args.users, args.groups
    if users < 0 or groups < 0 or (users and not groups):
        raise SystemExit("--users and --groups are 0 or more, and users need a group.")
    started = time.perf_counter()
    tables = [
        User.scim_groups.through._meta.db_table,
        User._meta.db_table,
        Group._meta.db_table,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        if args.reset:
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        elif User.objects.exists() or Group.objects.exists():
            raise SystemExit("the peer has users or groups already; add --reset to start over.")
        now = timezone.now()
        rows = io.StringIO()
        for g in range(groups):
            rows.write(f"{g + 1}\t{g + 1}\t\\N\tGroup {g}\tGroup {g}\n")
        _copy(
            Group._meta.db_table,
            ["id", "scim_id", "scim_external_id", "scim_display_name", "name"],
            rows,
        )
        # Users are created a second apart, oldest first, as a provisioning history would.
        first_joined = now - dt.timedelta(seconds=users)
        for first in range(1, users + 1, BATCH):
            people, memberships = io.StringIO(), io.StringIO()
            for i in range(first, min(first + BATCH, users + 1)):
                email = f"user{i}@example.com"
                joined = (first_joined + dt.timedelta(seconds=i)).isoformat()
                # "!" is Django's unusable password, as for users provisioned without one.
                people.write(
                    f"{i}\t!\t\\N\tf\t{email}\tUser\t{i}\t{email}\tf\tt\t{joined}\t"
                    f"{i}\t\\N\t{email}\n"
                )
                memberships.write(f"{i}\t{i}\t{i % groups + 1}\n")
            _copy(
                User._meta.db_table,
                [
                    "id",
                    "password",
                    "last_login",
                    "is_superuser",
                    "username",
                    "first_name",
                    "last_name",
                    "email",
                    "is_staff",
                    "is_active",
                    "date_joined",
                    "scim_id",
                    "scim_external_id",
                    "scim_username",
                ],
                people,
            )
            _copy(
                User.scim_groups.through._meta.db_table, ["id", "user_id", "group_id"], memberships
            )
        # Explicit ids were copied: move the sequences past them so POSTs get fresh ones.
        for model, last in ((User, users), (Group, groups), (User.scim_groups.through, users)):
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)",
                [model._meta.db_table, last + 1],
            )
    # As Headcount's bench_seed does: VACUUM so the first benchmark reads do not set hint bits,
    # then CHECKPOINT so flushing the load's WAL does not stall the first workloads.
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        try:
            cursor.execute("CHECKPOINT")
        except DatabaseError:
            print("CHECKPOINT refused (needs pg_checkpoint); skipped.", file=sys.stderr)
    elapsed = time.perf_counter() - started
    print(f"Seeded the peer: {users} users, {groups} groups in {elapsed:.1f} s.")


def serve(args: argparse.Namespace) -> None:
    """gunicorn in the foreground, as Headcount's benchmark runs its own: sync workers, no
    access log. gunicorn's sync workers close the connection after each response whatever the
    client asks, as they do for Headcount's server too."""
    print(f"http://127.0.0.1:{args.port}/scim/v2", flush=True)
    os.chdir(HERE)
    os.execv(  # noqa: S606 - replaced by gunicorn, so the caller's pid is the master's
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "peer_project.wsgi:application",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            "sync",
            "--timeout",
            "30",
            # Same recycling as Headcount's config/gunicorn.py defaults, workers forked from
            # a master that loaded the application as Headcount's are.
            "--max-requests",
            "20000",
            "--max-requests-jitter",
            "2000",
            "--preload",
            "--log-level",
            "warning",
        ],
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="create the database if needed and migrate").set_defaults(
        run=setup
    )
    seeding = commands.add_parser("seed", help="seed N users and G groups (COPY)")
    seeding.add_argument("--users", type=int, default=100_000)
    seeding.add_argument("--groups", type=int, default=10)
    seeding.add_argument("--reset", action="store_true", help="delete users and groups first")
    seeding.set_defaults(run=seed)
    serving = commands.add_parser("serve", help="gunicorn on 127.0.0.1:PORT (foreground)")
    serving.add_argument("--port", type=int, default=8100)
    serving.add_argument("--workers", type=int, default=2)
    serving.set_defaults(run=serve)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main(sys.argv[1:])
