"""The periodic seat check, in process (it also runs in a real worker: test_worker_tasks)."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import User
from directory import seat_check
from directory.models import Member, ProvisioningEvent, WaitlistEntry
from directory.seat_check import company_seat_check, seat_level, seat_level_now
from tenants.models import Company, SeatUsage
from tests.conftest import make_portal_user
from tests.scim_client import Scim, okta_user


def test_levels() -> None:
    assert [seat_level(used, 10) for used in (0, 7, 8, 9, 10, 11)] == [
        "ok",
        "ok",
        "warning",
        "warning",
        "full",
        "over",
    ]
    assert seat_level(5000, None) == "ok"


def test_the_sql_level_is_the_python_level(outsider: Company) -> None:
    readings = [
        (used, limit)
        for limit in (None, 0, 1, 3, 5, 10, 100)
        for used in (0, 1, 3, 5, 6, 7, 8, 10, 11, 79, 80, 101)
    ]

    in_sql = []
    for used, limit in readings:
        Company.objects.filter(pk=outsider.pk).update(seats_used=used, seat_limit=limit)
        in_sql.append(
            Company.objects.filter(pk=outsider.pk)
            .annotate(level=seat_level_now())
            .values_list("level", flat=True)
            .get()
        )

    assert in_sql == [seat_level(used, limit) for used, limit in readings]


def test_recount_snapshot_and_warnings_when_the_level_rises(scim: Scim, acme: Company) -> None:
    make_portal_user(acme, email="owner@acme.test")
    make_portal_user(acme, email="viewer@acme.test", role=User.Role.VIEWER)
    for i in range(4):
        scim.post("/Users", okta_user(f"u{i}@acme.test", externalId=str(i)))
    Company.objects.filter(pk=acme.pk).update(seat_limit=5, seats_used=99)  # drifted counter

    snapshots_before = SeatUsage.objects.filter(company=acme).count()

    first = company_seat_check(Company.objects.get(pk=acme.pk))
    again = company_seat_check(Company.objects.get(pk=acme.pk))

    company = Company.objects.get(pk=acme.pk)
    assert first == again == "warning" and company.seats_used == 4 and company.seats_checked_at
    assert SeatUsage.objects.filter(company=acme).count() == snapshots_before + 2
    (message,) = mail.outbox  # once, when the level rose; not every hour
    assert message.to == ["owner@acme.test"] and "4 of 5" in message.subject


def test_limit_lowered_below_usage_flags_the_company_and_deactivates_nobody(
    scim: Scim, acme: Company
) -> None:
    for i in range(3):
        scim.post("/Users", okta_user(f"u{i}@acme.test", externalId=str(i)))
    Company.objects.filter(pk=acme.pk).update(seat_limit=2)

    level = company_seat_check(Company.objects.get(pk=acme.pk))

    assert level == "over"
    assert scim.get("/Users?filter=active eq true").json()["totalResults"] == 3


def test_a_recount_that_frees_seats_provisions_the_oldest_waiting_first(
    scim: Scim, acme: Company
) -> None:
    Company.objects.filter(pk=acme.pk).update(seat_limit=3)
    scim.post("/Users", okta_user("seated@acme.test", externalId="s"))
    Company.objects.filter(pk=acme.pk).update(seats_used=3)  # drifted: looks full
    for name in ("first", "second", "third"):
        assert (
            scim.post("/Users", okta_user(f"{name}@acme.test", externalId=name)).status_code == 403
        )

    level = company_seat_check(Company.objects.get(pk=acme.pk))

    assert level == "full"
    active = set(Member.objects.filter(active=True).values_list("user_name", flat=True))
    assert active == {"seated@acme.test", "first@acme.test", "second@acme.test"}
    assert list(WaitlistEntry.objects.values_list("user_name", flat=True)) == ["third@acme.test"]
    assert Company.objects.get(pk=acme.pk).seats_used == 3
    assert SeatUsage.objects.filter(company=acme).latest("id").seats_used == 3
    noted = ProvisioningEvent.objects.filter(idp="Headcount waitlist", outcome="succeeded")
    assert sorted(noted.values_list("user_name", flat=True)) == [
        "first@acme.test",
        "second@acme.test",
    ]


def test_a_waiting_person_whose_provisioning_fails_stops_neither_this_recount_nor_the_run(
    scim: Scim, acme: Company, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    Company.objects.filter(pk=acme.pk).update(seat_limit=2)
    scim.post("/Users", okta_user("seated@acme.test", externalId="s"))
    Company.objects.filter(pk=acme.pk).update(seats_used=2)  # drifted: looks full
    assert scim.post("/Users", okta_user("waiting@acme.test", externalId="w")).status_code == 403

    def failing(company: Company, prepared: object) -> int:
        Member.objects.update(display_name="half-written")  # undone with the savepoint
        raise RuntimeError("a failure no SCIM error describes")

    monkeypatch.setattr(seat_check, "waitlist_drain_locked", failing)

    level = company_seat_check(Company.objects.get(pk=acme.pk))

    assert level == "ok"
    assert Company.objects.get(pk=acme.pk).seats_used == 1  # the recount is stored
    assert list(WaitlistEntry.objects.values_list("user_name", flat=True)) == ["waiting@acme.test"]
    assert not Member.objects.filter(display_name="half-written").exists()
    assert "provisioning the waitlist of acme failed" in caplog.text
