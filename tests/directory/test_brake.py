"""The brake on mass deprovisioning, in process: the count, what a held request is answered
and leaves behind, who is told, and the release. The 100-user burst with concurrent requests
runs against a live server in tests/scim/test_brake_burst.py."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from accounts.models import User
from directory.brake import brake_release
from directory.models import Member, ProvisioningEvent
from tenants.models import Company, CompanyEvent
from tests.conftest import make_portal_user, max_queries
from tests.scim_client import PATCH_OP, Scim, assert_error, okta_user

DEACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
Capture = Callable[..., Any]
# A PATCH deactivating a user with nobody waiting for a seat: the route with the credential,
# the test transaction's savepoint and its release, the member under its row lock, and one
# statement (the waitlist's head, the seat under the brake, the member, its change event and
# ledger row).
QUERIES_PER_DEACTIVATION = 5


def _users(scim: Scim, count: int) -> list[str]:
    ids = []
    for n in range(count):
        reply = scim.post("/Users", okta_user(f"user{n}@acme.test", externalId=f"e{n}"))
        assert reply.status_code == 201
        ids.append(reply.json()["id"])
    return ids


@pytest.fixture
def thirty(scim: Scim, acme: Company) -> list[str]:
    """30 active users: the brake allows max(10, 20% of 30) = 10 deprovisions an hour."""
    Company.objects.filter(pk=acme.pk).update(seat_limit=None)
    return _users(scim, 30)


def test_deprovisions_past_the_allowance_are_held_and_change_nothing(
    scim: Scim, acme: Company, thirty: list[str], settings: Any, capture: Capture
) -> None:
    settings.SUPPORT_EMAILS = ["support@vendor.test"]
    make_portal_user(acme, email="owner@acme.test", role=User.Role.OWNER)
    make_portal_user(acme, email="admin@acme.test", role=User.Role.ADMIN)
    make_portal_user(acme, email="viewer@acme.test", role=User.Role.VIEWER)
    for user_id in thirty[:10]:
        assert scim.patch(f"/Users/{user_id}", DEACTIVATE).status_code == 200

    with capture(execute=True):
        held_patch = scim.patch(f"/Users/{thirty[10]}", DEACTIVATE)
        held_delete = scim.delete(f"/Users/{thirty[11]}")

    for reply in (held_patch, held_delete):
        body = assert_error(reply, 503)
        assert (
            "Deprovisioning is paused" in body["detail"] and "Nothing was changed" in body["detail"]
        )
        assert reply["Retry-After"] == str(settings.DEPROVISION_BRAKE_RETRY_AFTER)
    assert Member.objects.filter(pk__in=thirty[10:12], active=True).count() == 2
    assert Company.objects.get(pk=acme.pk).seats_used == 20
    held = ProvisioningEvent.objects.filter(outcome="held").order_by("created_at")
    assert [(row.operation, row.status) for row in held] == [("patch", 503), ("delete", 503)]
    # Told once per trip: owners, admins and support, not viewers.
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == [
        "admin@acme.test",
        "owner@acme.test",
        "support@vendor.test",
    ]
    assert "deprovisioning paused" in mail.outbox[0].subject
    assert CompanyEvent.objects.filter(company=acme, action="brake_tripped").count() == 1


def test_a_held_request_is_one_warning_naming_the_company_not_a_server_error(
    scim: Scim, acme: Company, thirty: list[str], capture: Capture, caplog: Any
) -> None:
    # Alerting and ADMINS e-mails watch ERROR lines: a designed refusal is not one.
    for user_id in thirty[:10]:
        scim.patch(f"/Users/{user_id}", DEACTIVATE)
    caplog.set_level(logging.INFO)

    with capture(execute=True):
        reply = scim.patch(f"/Users/{thirty[10]}", DEACTIVATE)

    assert reply.status_code == 503
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    (held,) = [r for r in caplog.records if "DeprovisioningHeld" in r.getMessage()]
    assert held.levelno == logging.WARNING
    assert acme.schema_name in held.getMessage() and "paused" in held.getMessage()
    assert f"(PATCH /t/acme/scim/v2/Users/{thirty[10]}, request id" in held.getMessage()


def test_release_lets_the_idps_retries_through_and_starts_a_new_window(
    scim: Scim, acme: Company, thirty: list[str], capture: Capture
) -> None:
    for user_id in thirty[:10]:
        scim.patch(f"/Users/{user_id}", DEACTIVATE)
    with capture(execute=True):
        for user_id in thirty[10:20]:
            assert scim.patch(f"/Users/{user_id}", DEACTIVATE).status_code == 503

    held = brake_release(company=acme, actor="owner@acme.test", confirmed=False)

    assert held == 10
    for user_id in thirty[10:20]:
        assert scim.patch(f"/Users/{user_id}", DEACTIVATE).status_code == 200
    company = Company.objects.get(pk=acme.pk)
    assert company.deprovision_held_since is None and company.deprovision_window_count == 10
    event = CompanyEvent.objects.get(company=acme, action="brake_released")
    assert event.actor == "owner@acme.test" and event.detail["held"] == 10
    # The new window allows its own share beyond the held ones: max(10, 20% of 20) = 10 more.
    for user_id in thirty[20:30]:
        assert scim.patch(f"/Users/{user_id}", DEACTIVATE).status_code == 200
    assert Member.objects.filter(active=True).count() == 0


def test_confirm_is_recorded_as_confirmed(
    scim: Scim, acme: Company, thirty: list[str], capture: Capture
) -> None:
    for user_id in thirty[:11]:
        with capture(execute=True):
            scim.delete(f"/Users/{user_id}")

    assert brake_release(company=acme, actor="support@vendor.test", confirmed=True) == 1
    assert brake_release(company=acme, actor="support@vendor.test", confirmed=True) is None

    assert CompanyEvent.objects.filter(company=acme, action="brake_confirmed").count() == 1
    assert scim.delete(f"/Users/{thirty[10]}").status_code == 204


def test_deleting_deactivated_users_is_not_counted(
    scim: Scim, acme: Company, thirty: list[str]
) -> None:
    for user_id in thirty[:10]:
        scim.patch(f"/Users/{user_id}", DEACTIVATE)

    # Entra's purge of users it disabled earlier removes nobody active.
    for user_id in thirty[:10]:
        assert scim.delete(f"/Users/{user_id}").status_code == 204

    assert Company.objects.get(pk=acme.pk).deprovision_held_since is None


def test_a_window_that_ended_starts_the_count_again(
    scim: Scim, acme: Company, thirty: list[str]
) -> None:
    for user_id in thirty[:10]:
        scim.patch(f"/Users/{user_id}", DEACTIVATE)
    Company.objects.filter(pk=acme.pk).update(
        deprovision_window_start=timezone.now() - dt.timedelta(minutes=61)
    )

    assert scim.patch(f"/Users/{thirty[10]}", DEACTIVATE).status_code == 200

    company = Company.objects.get(pk=acme.pk)
    assert (company.deprovision_window_count, company.deprovision_window_base) == (1, 20)


def test_percent_zero_switches_the_brake_off(scim: Scim, acme: Company, thirty: list[str]) -> None:
    Company.objects.filter(pk=acme.pk).update(deprovision_brake_percent=0)

    replies = [scim.patch(f"/Users/{user_id}", DEACTIVATE).status_code for user_id in thirty]

    assert set(replies) == {200}


def test_reactivations_and_profile_updates_are_never_held(
    scim: Scim, acme: Company, thirty: list[str], capture: Capture
) -> None:
    for user_id in thirty[:10]:
        scim.patch(f"/Users/{user_id}", DEACTIVATE)
    with capture(execute=True):
        scim.patch(f"/Users/{thirty[10]}", DEACTIVATE)
    reactivate = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": True}}],
    }

    assert scim.patch(f"/Users/{thirty[0]}", reactivate).status_code == 200
    assert (
        scim.put(
            f"/Users/{thirty[12]}", okta_user("user12@acme.test", externalId="e12", title="X")
        ).status_code
        == 200
    )


@pytest.fixture
def capture(django_capture_on_commit_callbacks: Capture) -> Capture:
    return django_capture_on_commit_callbacks


def _trip(scim: Scim, thirty: list[str], capture: Capture) -> None:
    """The allowance's ten deactivations, then the eleventh, held: the brake trips."""
    for user_id in thirty[:10]:
        scim.patch(f"/Users/{user_id}", DEACTIVATE)
    with capture(execute=True):
        assert scim.patch(f"/Users/{thirty[10]}", DEACTIVATE).status_code == 503


@pytest.mark.parametrize("earlier", [0, 9])
def test_a_deactivation_counts_without_reading_the_ledger(
    scim: Scim, acme: Company, thirty: list[str], earlier: int
) -> None:
    """The brake's count is the company row's, kept by the UPDATE that frees the seat: the
    same few statements however many deprovisions the window holds, and no ledger scan."""
    for user_id in thirty[:earlier]:
        scim.patch(f"/Users/{user_id}", DEACTIVATE)

    with max_queries(QUERIES_PER_DEACTIVATION) as counted:
        assert scim.patch(f"/Users/{thirty[earlier]}", DEACTIVATE).status_code == 200

    reads = [sql for sql in counted.statements if sql.startswith("SELECT")]
    assert not [sql for sql in reads if "directory_provisioningevent" in sql]


def test_a_held_request_that_lost_the_race_to_trip_is_still_released(
    scim: Scim, acme: Company, thirty: list[str], capture: Capture
) -> None:
    # Two held requests refused at t and t + 1 s; the later one trips the brake first (its
    # failure is written first), the earlier one's ledger row is written between its refusal
    # and its own late trip. The release must count both.
    from directory.brake import brake_trip

    for user_id in thirty[:10]:
        scim.patch(f"/Users/{user_id}", DEACTIVATE)
    earlier = timezone.now()
    later = earlier + dt.timedelta(seconds=1)
    window = Company.objects.get(pk=acme.pk).deprovision_window_start
    with capture(execute=True):
        assert brake_trip(acme.pk, later, window) is True
    for user_id in thirty[10:12]:
        ProvisioningEvent.objects.create(
            operation="patch",
            resource_type="User",
            resource_id=user_id,
            outcome=ProvisioningEvent.Outcome.HELD,
            status=503,
        )
    ProvisioningEvent.objects.filter(resource_id=thirty[10]).update(
        created_at=earlier + dt.timedelta(milliseconds=500)
    )
    assert brake_trip(acme.pk, earlier, window) is False

    held = brake_release(company=acme, actor="owner@acme.test", confirmed=False)

    assert held == 2
    assert CompanyEvent.objects.filter(company=acme, action="brake_tripped").count() == 1


def test_a_straggler_held_before_the_release_does_not_trip_the_brake_again(
    scim: Scim, acme: Company, thirty: list[str], capture: Capture
) -> None:
    # A deactivation refused while the brake was held, whose ledger row and trip are written
    # just after an owner released it (its transaction ended later). It belongs to the
    # released trip: no new trip, and its retry gets room as the counted ones do.
    from directory.brake import brake_trip

    _trip(scim, thirty, capture)
    refused_at = timezone.now()
    window_seen = Company.objects.get(pk=acme.pk).deprovision_window_start
    assert brake_release(company=acme, actor="owner@acme.test", confirmed=True) == 1
    mail.outbox.clear()

    with capture(execute=True):
        ProvisioningEvent.objects.create(
            operation="patch",
            resource_type="User",
            resource_id=thirty[11],
            outcome=ProvisioningEvent.Outcome.HELD,
            status=503,
        )
        tripped = brake_trip(acme.pk, refused_at, window_seen)

    assert tripped is False
    assert Company.objects.get(pk=acme.pk).deprovision_held_since is None
    assert CompanyEvent.objects.filter(company=acme, action="brake_tripped").count() == 1
    assert mail.outbox == []
    # Both held people's retries, then the new window's own share: max(10, 20% of 20).
    for user_id in thirty[10:22]:
        assert scim.patch(f"/Users/{user_id}", DEACTIVATE).status_code == 200
    assert scim.patch(f"/Users/{thirty[22]}", DEACTIVATE).status_code == 503


def test_a_release_landing_just_after_a_refusal_lets_the_request_through_without_a_new_trip(
    scim: Scim, acme: Company, thirty: list[str], capture: Capture
) -> None:
    # An owner's release commits after a deactivation's seat UPDATE was refused under the
    # tripped brake, before that request read why. The request is decided again under the
    # seat lock: it goes through in the release's new window, and the brake the owner has
    # just lifted stays lifted (read unlocked, the release's window would have passed for
    # the request's own, and its trip would have held everything again).
    _trip(scim, thirty, capture)
    released: list[int | None] = []

    def release_after_the_refusal(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        result = execute(sql, params, many, context)
        refused_take = sql.lstrip().startswith("UPDATE tenants_company SET") and (
            "deprovision_window_count" in sql and context["cursor"].rowcount == 0
        )
        if refused_take and not released:
            released.append(brake_release(company=acme, actor="owner@acme.test", confirmed=True))
        return result

    mail.outbox.clear()
    with capture(execute=True), connection.execute_wrapper(release_after_the_refusal):
        reply = scim.patch(f"/Users/{thirty[11]}", DEACTIVATE)

    assert released == [1]
    assert reply.status_code == 200, reply.json()
    assert Member.objects.get(pk=thirty[11]).active is False
    assert Company.objects.get(pk=acme.pk).deprovision_held_since is None
    assert CompanyEvent.objects.filter(company=acme, action="brake_tripped").count() == 1
    assert mail.outbox == []
