"""Seed a company with N users and G groups, fast (PostgreSQL COPY), for benchmarks.

Contract (keep it: other SCIM servers are seeded the same way and compared): users i = 1..N
have userName = primary work email = user{i}@example.com, givenName "User", familyName
"{i}", active; user i belongs to group (i mod G), groups are named "Group {g}".

`--profiles` adds what the portal's pages show (not part of the SCIM contract): title
"{TITLES[i mod 7]} {i mod 100}" and department "Department {i mod 50}" (enterprise
extension), and a provisioning ledger of one create per user over the last 30 days, every
50th one failed (409 uniqueness).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import uuid
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from directory.models import Group, Member
from tenants.models import Company
from tenants.services import company_create

BATCH = 50_000
# Far above what a run deactivates, and far enough below the column's integer limit that the
# brake's arithmetic (minimum + the extra a release grants) cannot overflow it.
BRAKE_OUT_OF_REACH = 10**9
TITLES = ("Engineer", "Analyst", "Designer", "Manager", "Accountant", "Recruiter", "Support")
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# One create per member, spread over 30 days by seq; every 50th failed.
LEDGER_SQL = """
INSERT INTO directory_provisioningevent (created_at, operation, resource_type, resource_id,
    user_name, external_id, display_name, outcome, status, scim_type, detail, idp, credential,
    request_id)
SELECT now() - (seq % 2592000) * interval '1 second', 'create', 'User', id, user_name, '',
    display_name,
    CASE WHEN seq % 50 = 0 THEN 'failed' ELSE 'succeeded' END,
    CASE WHEN seq % 50 = 0 THEN 409 ELSE 201 END,
    CASE WHEN seq % 50 = 0 THEN 'uniqueness' ELSE '' END,
    CASE WHEN seq % 50 = 0 THEN 'userName is already taken.' ELSE '' END,
    'Okta SCIM Client 1.0.0', 'bench', ''
FROM directory_member
"""


def _copy(table: str, columns: list[str], rows: io.StringIO) -> None:
    rows.seek(0)
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        while chunk := rows.read(1 << 20):
            copy.write(chunk)


def _text(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


class Command(BaseCommand):
    help = (
        "Seed a company with N users and G groups for benchmarks (creates the company if needed)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--company", required=True, help="company slug")
        parser.add_argument("--users", type=int, default=100_000)
        parser.add_argument("--groups", type=int, default=10)
        parser.add_argument(
            "--reset", action="store_true", help="delete the company's users and groups first"
        )
        parser.add_argument(
            "--profiles",
            action="store_true",
            help="give users a title and a department (the portal benchmark searches them)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users, groups = options["users"], options["groups"]
        if users < 0 or groups < 0:
            raise CommandError("--users and --groups are 0 or more.")
        started = time.perf_counter()
        company = Company.objects.filter(slug=options["company"]).first()
        if company is None:
            company = company_create(
                slug=options["company"],
                name=f"Bench {options['company']}",
                scim_enabled=True,
                actor="command:bench_seed",
            )
        with schema_context(company.schema_name), transaction.atomic():
            if options["reset"]:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "TRUNCATE directory_membership, directory_group, directory_membervalue, "
                        "directory_waitlistentry, directory_member, directory_provisioningevent"
                    )
            elif Member.objects.exists() or Group.objects.exists():
                raise CommandError(
                    f"{company.slug} has users or groups already; add --reset to start over."
                )
            group_ids = [uuid.uuid4() for _ in range(groups)]
            self._groups(group_ids)
            self._users(users, group_ids, profiles=options["profiles"])
            if options["profiles"]:
                self._ledger()
        # A fresh start for the deprovisioning brake too: the deactivations of an earlier run
        # (the PATCH workload flips `active`) would otherwise trip it in the next one. The
        # brake stays on, as rate limiting does (its counting is part of what a deactivation
        # costs), with an allowance no run reaches: `make bench --peer` runs the PATCH
        # workload in several rounds within one window, and on a small company their
        # deactivations added up to a trip, which answers 503s the peer never has to.
        Company.objects.filter(pk=company.pk).update(
            seats_used=users,
            seat_limit=None,
            deprovision_brake_minimum=BRAKE_OUT_OF_REACH,
            deprovision_window_start=None,
            deprovision_window_base=0,
            deprovision_window_count=0,
            deprovision_window_extra=0,
            deprovision_held_since=None,
        )
        # VACUUM, not only ANALYZE: freshly copied rows get their hint bits set and the
        # visibility map filled here rather than by the benchmark's first reads (which then
        # write, and let index-only scans visit the table), and autovacuum has nothing left
        # to do on them mid-run. That is the steady state of a company's tables. (Inside a
        # caller's transaction, as in tests, VACUUM cannot run: ANALYZE only.)
        settle = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with schema_context(company.schema_name), connection.cursor() as cursor:
            for table in (
                "directory_member",
                "directory_provisioningevent",
                "directory_membervalue",
                "directory_membership",
                "directory_memberbucket",
                "directory_group",
            ):
                cursor.execute(f"{settle} {table}")
            if not connection.in_atomic_block:
                # The load wrote ~100 MB of WAL per 100,000 users: flush it now rather than
                # in a checkpoint that stalls the benchmark's first workloads.
                try:
                    cursor.execute("CHECKPOINT")
                except DatabaseError:
                    self.stderr.write("CHECKPOINT refused (needs pg_checkpoint); skipped.")
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Seeded {company.slug}: {users} users, {groups} groups in {elapsed:.1f} s."
        )

    @staticmethod
    def _ledger() -> None:
        with connection.cursor() as cursor:
            cursor.execute(LEDGER_SQL)

    @staticmethod
    def _groups(group_ids: list[uuid.UUID]) -> None:
        now = timezone.now()
        rows = io.StringIO()
        for index, group_id in enumerate(group_ids):
            rows.write(f"{group_id}\tGroup {index}\t\\N\t1\t{now.isoformat()}\t{now.isoformat()}\n")
        _copy(
            "directory_group",
            ["id", "display_name", "external_id", "version", "created_at", "updated_at"],
            rows,
        )

    @staticmethod
    def _users(count: int, group_ids: list[uuid.UUID], *, profiles: bool = False) -> None:
        start = timezone.now() - dt.timedelta(seconds=count)
        for first in range(1, count + 1, BATCH):
            members, values, memberships = io.StringIO(), io.StringIO(), io.StringIO()
            for i in range(first, min(first + BATCH, count + 1)):
                member_id = uuid.uuid4()
                email = f"user{i}@example.com"
                attributes = {
                    "userName": email,
                    "name": {"givenName": "User", "familyName": str(i)},
                    "displayName": f"User {i}",
                    "emails": [{"value": email, "type": "work", "primary": True}],
                    "active": True,
                }
                if profiles:
                    attributes["title"] = f"{TITLES[i % len(TITLES)]} {i % 100}"
                    attributes[ENTERPRISE] = {"department": f"Department {i % 50}"}
                created = (start + dt.timedelta(seconds=i)).isoformat()
                members.write(
                    "\t".join(
                        [
                            str(member_id),
                            email,
                            "\\N",
                            "t",
                            f"User {i}",
                            "User",
                            str(i),
                            email,
                            "\\N",
                            "",
                            _text(json.dumps(attributes)),
                            "1",
                            created,
                            created,
                        ]
                    )
                    + "\n"
                )
                email_item = _text(json.dumps({"value": email, "type": "work", "primary": True}))
                values.write(f"{member_id}\temails\t{email_item}\t{email}\twork\n")
                if group_ids:
                    memberships.write(
                        f"{group_ids[i % len(group_ids)]}\t{member_id}\t\t{created}\n"
                    )
            _copy(
                "directory_member",
                [
                    "id",
                    "user_name",
                    "external_id",
                    "active",
                    "display_name",
                    "given_name",
                    "family_name",
                    "primary_email",
                    "manager_id",
                    "manager_ref",
                    "attributes",
                    "version",
                    "created_at",
                    "updated_at",
                ],
                members,
            )
            _copy(
                "directory_membervalue",
                ["member_id", "attribute", "item", "value_lower", "type_lower"],
                values,
            )
            if group_ids:
                _copy(
                    "directory_membership",
                    ["group_id", "member_id", "display", "created_at"],
                    memberships,
                )
