"""The seat waitlist, in process: what the IdP is told, what is remembered, who is provisioned
when seats free up, and how a waiting person leaves the line. The concurrent versions run
against a live server in tests/scim/test_waitlist_races.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command

from directory.models import Member, ProvisioningEvent, WaitlistEntry
from directory.services import seat_limit_set
from tenants.models import Company, CompanyEvent
from tests.scim_client import PATCH_OP, Scim, assert_error, okta_user

DEACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
REACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": True}}]}


def _limit(acme: Company, limit: int | None) -> None:
    Company.objects.filter(pk=acme.pk).update(seat_limit=limit)


def _user(scim: Scim, name: str, **extra: Any) -> Any:
    return scim.post("/Users", okta_user(name, externalId=f"ext-{name}", **extra))


def _fill(scim: Scim, acme: Company, seats: int) -> list[str]:
    _limit(acme, seats)
    ids = []
    for n in range(seats):
        reply = _user(scim, f"seated{n}@acme.test")
        assert reply.status_code == 201
        ids.append(reply.json()["id"])
    return ids


def _waiting() -> list[str]:
    return list(
        WaitlistEntry.objects.order_by("created_at", "id").values_list("user_name", flat=True)
    )


def test_a_create_refused_for_seats_is_waitlisted_and_told_so(scim: Scim, acme: Company) -> None:
    _fill(scim, acme, 1)

    reply = _user(scim, "late@acme.test")

    body = assert_error(reply, 403)
    assert body["detail"].endswith(
        "The user is on the waitlist: Headcount creates it automatically, oldest first, when "
        "a seat frees up; a later retry then finds it by userName."
    )
    entry = WaitlistEntry.objects.get()
    assert (entry.user_name, entry.external_id, entry.operation) == (
        "late@acme.test",
        "ext-late@acme.test",
        "create",
    )
    # What the service normalised, without the password Okta sends.
    assert entry.request["userName"] == "late@acme.test"
    assert "password" not in str(entry.request).lower()
    assert "1mz050nq" not in str(entry.request)
    failed = ProvisioningEvent.objects.get(outcome="failed")
    assert failed.status == 403 and failed.detail == body["detail"]


def test_the_idps_retries_keep_one_place_in_line(scim: Scim, acme: Company) -> None:
    _fill(scim, acme, 1)
    _user(scim, "first@acme.test")
    _user(scim, "second@acme.test")

    _user(scim, "FIRST@acme.test")

    assert _waiting() == ["first@acme.test", "second@acme.test"]
    assert WaitlistEntry.objects.get(user_name="first@acme.test").attempts == 2


def test_raising_the_limit_provisions_the_oldest_that_fit_and_okta_links_them(
    scim: Scim, acme: Company
) -> None:
    _fill(scim, acme, 2)
    for n in range(4):
        assert _user(scim, f"waiting{n}@acme.test").status_code == 403

    provisioned = seat_limit_set(company=acme, limit=4, actor="support@vendor.test").now

    assert provisioned == 2
    assert _waiting() == ["waiting2@acme.test", "waiting3@acme.test"]
    assert Company.objects.get(pk=acme.pk).seats_used == 4
    rows = ProvisioningEvent.objects.filter(outcome="succeeded", idp="Headcount waitlist")
    assert sorted(rows.values_list("user_name", flat=True)) == [
        "waiting0@acme.test",
        "waiting1@acme.test",
    ]
    assert all("Provisioned from the waitlist" in row.detail for row in rows)
    assert CompanyEvent.objects.filter(company=acme, action="seat_limit_changed").exists()
    # Okta's retry: the pre-check finds the user, and its PUT of the profile succeeds.
    found = scim.get('/Users?filter=userName eq "waiting0@acme.test"').json()
    assert found["totalResults"] == 1
    user = found["Resources"][0]
    assert user["active"] is True and user["externalId"] == "ext-waiting0@acme.test"
    user["title"] = "Engineer"
    assert scim.put(f"/Users/{user['id']}", user).status_code == 200


def test_a_deactivation_gives_the_freed_seat_to_the_next_in_line(scim: Scim, acme: Company) -> None:
    (seated,) = _fill(scim, acme, 1)
    _user(scim, "next@acme.test")
    _user(scim, "after@acme.test")

    assert scim.patch(f"/Users/{seated}", DEACTIVATE).status_code == 200

    assert Member.objects.get(user_name="next@acme.test").active
    assert _waiting() == ["after@acme.test"]
    assert Company.objects.get(pk=acme.pk).seats_used == 1


def test_a_deletion_gives_the_freed_seat_to_the_next_in_line(scim: Scim, acme: Company) -> None:
    (seated,) = _fill(scim, acme, 1)
    _user(scim, "next@acme.test")

    assert scim.delete(f"/Users/{seated}").status_code == 204

    assert Member.objects.filter(user_name="next@acme.test", active=True).exists()
    assert _waiting() == []


def test_a_refused_reactivation_waits_and_is_applied_when_a_seat_frees(
    scim: Scim, acme: Company
) -> None:
    seated, other = _fill(scim, acme, 2)
    scim.patch(f"/Users/{other}", DEACTIVATE)
    assert _user(scim, "third@acme.test").status_code == 201  # takes the freed seat

    body = assert_error(scim.patch(f"/Users/{other}", REACTIVATE), 403)

    assert "The user is on the waitlist: Headcount reactivates it automatically" in body["detail"]
    assert WaitlistEntry.objects.get().operation == "reactivate"
    scim.patch(f"/Users/{seated}", DEACTIVATE)
    assert Member.objects.get(pk=other).active
    assert _waiting() == []


def test_the_idp_deleting_or_deactivating_a_waiting_person_takes_them_off(
    scim: Scim, acme: Company
) -> None:
    _seated, other = _fill(scim, acme, 2)
    scim.patch(f"/Users/{other}", DEACTIVATE)
    _user(scim, "third@acme.test")
    scim.patch(f"/Users/{other}", REACTIVATE)  # waits
    _user(scim, "never@acme.test")  # waits
    assert len(_waiting()) == 2

    scim.delete(f"/Users/{other}")  # the waiting reactivation's member is gone
    # Okta creating the waiting person deactivated: no seat wanted any more.
    created = _user(scim, "never@acme.test", active=False)

    assert created.status_code == 201
    assert _waiting() == []


def test_a_deactivation_resent_for_a_waiting_reactivation_takes_it_off(
    scim: Scim, acme: Company
) -> None:
    _seated, other = _fill(scim, acme, 2)
    scim.patch(f"/Users/{other}", DEACTIVATE)
    _user(scim, "third@acme.test")
    scim.patch(f"/Users/{other}", REACTIVATE)

    assert scim.patch(f"/Users/{other}", DEACTIVATE).status_code == 200

    assert _waiting() == []


def test_unlimited_seats_provision_everyone_waiting(scim: Scim, acme: Company) -> None:
    _fill(scim, acme, 1)
    for n in range(3):
        _user(scim, f"waiting{n}@acme.test")

    assert seat_limit_set(company=acme, limit=None, actor="tests").now == 3

    assert _waiting() == [] and Member.objects.filter(active=True).count() == 4


def test_a_waiting_person_taken_meanwhile_is_dropped_without_a_second_create(
    scim: Scim, acme: Company
) -> None:
    (seated,) = _fill(scim, acme, 1)
    _user(scim, "twice@acme.test")
    # The IdP created the person deactivated under another externalId meanwhile.
    scim.post("/Users", okta_user("twice@acme.test", externalId="other", active=False))
    WaitlistEntry.objects.create(
        operation="create", user_name="twice@acme.test", request={"userName": "twice@acme.test"}
    )

    scim.patch(f"/Users/{seated}", DEACTIVATE)

    assert Member.objects.filter(user_name="twice@acme.test").count() == 1
    assert _waiting() == []


def test_company_seats_command_raises_the_limit_and_drains(
    scim: Scim, acme: Company, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(scim, acme, 1)
    _user(scim, "waiting@acme.test")

    call_command("company_seats", "--slug", "acme", "--limit", "3")

    assert Company.objects.get(pk=acme.pk).seat_limit == 3
    assert _waiting() == []
    assert "1 provisioned from the waitlist" in capsys.readouterr().out
    event = CompanyEvent.objects.filter(company=acme, action="seat_limit_changed").first()
    assert event is not None and event.actor == "command:company_seats"
    assert event.detail == {
        "from": 1,
        "to": 3,
        "waitlist_now": 1,
        "waitlist_later": 0,
        "waitlist_waiting": 0,
    }


def test_company_seats_command_unlimited(scim: Scim, acme: Company) -> None:
    _limit(acme, 5)

    call_command("company_seats", "--slug", "acme", "--unlimited")

    assert Company.objects.get(pk=acme.pk).seat_limit is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--slug", "nope", "--limit", "3"], 'No company with the slug "nope"'),
        (["--slug", "acme", "--limit", "-1"], "cannot be negative"),
        (["--slug", "acme"], "one of the arguments --limit --unlimited is required"),
        (["--slug", "acme", "--limit", "2", "--unlimited"], "not allowed with argument"),
        (["--slug", "acme", "--limit", "many"], "invalid int value"),
    ],
)
def test_company_seats_command_refuses_bad_input(
    acme: Company, arguments: list[str], message: str
) -> None:
    _limit(acme, 5)

    with pytest.raises(CommandError, match=message):
        call_command("company_seats", *arguments)

    assert Company.objects.get(pk=acme.pk).seat_limit == 5


def test_the_retry_of_someone_the_waitlist_provisioned_is_a_conflict_not_a_new_entry(
    scim: Scim, acme: Company
) -> None:
    (seated,) = _fill(scim, acme, 1)
    _user(scim, "late@acme.test")
    scim.patch(f"/Users/{seated}", DEACTIVATE)  # late@ is provisioned from the waitlist
    _user(scim, "next@acme.test")  # seats are full again

    assert_error(_user(scim, "late@acme.test"), 409, "uniqueness")
    assert _waiting() == ["next@acme.test"]
