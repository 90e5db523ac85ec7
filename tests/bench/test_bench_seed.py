"""The benchmark's seeding command keeps its contract (other SCIM servers are seeded alike)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from bench.management.commands import bench_seed
from directory import brake
from directory.models import MEMBER_BUCKET_SIZE, Group, Member, MemberBucket, Membership
from tenants.models import Company
from tenants.services import company_create


def test_bench_seed_contract(db: None) -> None:
    out = StringIO()

    call_command(
        bench_seed.Command(), "--company", "seeded", "--users", "50", "--groups", "5", stdout=out
    )

    company = Company.objects.get(slug="seeded")
    assert "Seeded seeded: 50 users, 5 groups" in out.getvalue()
    assert company.seats_used == 50 and company.seat_limit is None and company.scim_enabled
    with schema_context(company.schema_name):
        user7 = Member.objects.get(user_name="user7@example.com")
        assert user7.attributes["emails"] == [
            {"value": "user7@example.com", "type": "work", "primary": True}
        ]
        assert (user7.given_name, user7.family_name, user7.active) == ("User", "7", True)
        assert Membership.objects.get(member=user7).group.display_name == "Group 2"
        assert Group.objects.count() == 5 and Membership.objects.count() == 50
        assert list(
            Member.objects.order_by("created_at").values_list("user_name", flat=True)[:2]
        ) == ["user1@example.com", "user2@example.com"]
    with pytest.raises(CommandError, match="--reset"):
        call_command(bench_seed.Command(), "--company", "seeded", "--users", "5", stdout=StringIO())


def test_bench_seed_reset_releases_a_brake_an_earlier_run_tripped(db: None) -> None:
    company_create(slug="seeded", name="Seeded", scim_enabled=True, actor="tests")
    Company.objects.filter(slug="seeded").update(
        deprovision_held_since=timezone.now(),
        deprovision_window_start=timezone.now(),
        deprovision_window_count=40,
    )

    call_command(
        bench_seed.Command(), "--company", "seeded", "--users", "5", "--reset", stdout=StringIO()
    )

    company = Company.objects.get(slug="seeded")
    assert company.deprovision_held_since is None
    assert (company.deprovision_window_start, company.deprovision_window_count) == (None, 0)


def test_bench_seed_keeps_the_brake_counting_but_out_of_reach(db: None) -> None:
    call_command(bench_seed.Command(), "--company", "seeded", "--users", "5", stdout=StringIO())

    company = Company.objects.get(slug="seeded")
    assert company.deprovision_brake_percent > 0  # on: each deactivation is still counted
    assert brake.allowance(company) == bench_seed.BRAKE_OUT_OF_REACH


def test_bench_seed_keeps_the_position_index(db: None) -> None:
    call_command(
        bench_seed.Command(),
        "--company",
        "seeded",
        "--users",
        "1500",
        "--groups",
        "0",
        stdout=StringIO(),
    )
    company = Company.objects.get(slug="seeded")
    with schema_context(company.schema_name):
        counted = sum(MemberBucket.objects.values_list("members", flat=True))
        with connection.cursor() as cursor:
            # --reset truncates; deferred foreign-key checks of this test's transaction first.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    call_command(
        bench_seed.Command(),
        "--company",
        "seeded",
        "--users",
        "40",
        "--groups",
        "2",
        "--reset",
        stdout=StringIO(),
    )

    with schema_context(company.schema_name):
        buckets = dict(MemberBucket.objects.filter(members__gt=0).values_list("bucket", "members"))
        seqs = list(Member.objects.order_by("seq").values_list("seq", flat=True))
        names = list(Member.objects.order_by("seq").values_list("user_name", flat=True)[:2])
    assert counted == 1500
    assert sum(buckets.values()) == 40 == len(seqs)
    assert set(buckets) == {seq // MEMBER_BUCKET_SIZE for seq in seqs}
    assert names == ["user1@example.com", "user2@example.com"]
