"""The benchmark's seeding command keeps its contract (other SCIM servers are seeded alike)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from directory.models import Group, Member, Membership
from tenants.models import Company


def test_bench_seed_contract(db: None) -> None:
    out = StringIO()

    call_command("bench_seed", "--company", "seeded", "--users", "50", "--groups", "5", stdout=out)

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
        call_command("bench_seed", "--company", "seeded", "--users", "5", stdout=StringIO())
