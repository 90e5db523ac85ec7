"""The portal's waitlist and deprovisioning brake: what the Overview and the log show, who may
drop someone from the waitlist or release the brake, and that those are CSRF-protected POSTs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from directory.models import ProvisioningEvent, WaitlistEntry
from directory.retry import failures_to_retry
from directory.services import seat_limit_set
from tenants.models import Company, CompanyEvent
from tests.conftest import TEST_PASSWORD, make_portal_user
from tests.scim_client import PATCH_OP, Scim, okta_user

DEACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}


def _signed_in(company: Company, role: str, *, csrf: bool = False) -> Client:
    email = f"{role}@acme.test"
    make_portal_user(company, email=email, role=role)
    browser = Client(enforce_csrf_checks=csrf)
    browser.post("/t/acme/login/", {"username": email, "password": TEST_PASSWORD})
    return browser


@pytest.fixture
def waiting(scim: Scim, acme: Company) -> WaitlistEntry:
    Company.objects.filter(pk=acme.pk).update(seat_limit=0)
    scim.post("/Users", okta_user("late@acme.test", displayName="Late Comer"))
    return WaitlistEntry.objects.get()


@pytest.fixture
def tripped(scim: Scim, acme: Company, django_capture_on_commit_callbacks: Any) -> str:
    Company.objects.filter(pk=acme.pk).update(
        seat_limit=None, deprovision_brake_minimum=1, deprovision_brake_percent=1
    )
    ids = [
        scim.post("/Users", okta_user(f"u{n}@acme.test", externalId=f"{n}")).json()["id"]
        for n in range(2)
    ]
    scim.patch(f"/Users/{ids[0]}", DEACTIVATE)
    with django_capture_on_commit_callbacks(execute=True):
        assert scim.patch(f"/Users/{ids[1]}", DEACTIVATE).status_code == 503
    return ids[1]


# A minute-precise time shown with nothing to say its zone (every portal time says one).
ZONELESS = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(?!:| [A-Z]{2,5}\b|</time>| \+)")


def test_the_waitlist_and_the_brake_say_their_times_zone(
    acme: Company, tripped: str, waiting: WaitlistEntry
) -> None:
    overview = _signed_in(acme, User.Role.ADMIN).get("/t/acme/").content.decode()

    assert (
        'id="waitlist"' in overview and "further deactivations and deletions are held" in overview
    )
    assert ZONELESS.findall(overview) == []
    assert overview.count('<time datetime="') >= 2


def test_a_failure_the_waitlist_resolved_reads_done_and_is_not_offered_for_retry(
    acme: Company, waiting: WaitlistEntry
) -> None:
    refused = ProvisioningEvent.objects.get(outcome="failed", user_name="late@acme.test")
    assert seat_limit_set(company=acme, limit=None, actor="tests").now == 1
    browser = _signed_in(acme, User.Role.ADMIN)

    log = browser.get("/t/acme/log/").content.decode()
    entry = browser.get(f"/t/acme/log/{refused.pk}/").content.decode()

    row = re.search(rf'<tr class="failed[^"]*" data-event="{refused.pk}">.*?</tr>', log, re.S)
    assert row is not None and "Done since" in row.group(0) and "Retry…" not in row.group(0)
    assert "late@acme.test was created since" in entry and 'id="retry-form"' not in entry
    assert refused.pk not in failures_to_retry(refused.status, refused.scim_type)


def test_a_create_refused_because_the_user_existed_before_is_not_done_since(
    acme: Company, scim: Scim
) -> None:
    scim.post("/Users", okta_user("ada@acme.test"))
    scim.post("/Users", okta_user("ada@acme.test"))  # 409: taken before this request
    browser = _signed_in(acme, User.Role.ADMIN)

    log = browser.get("/t/acme/log/").content.decode()

    assert "Done since" not in log and "Retry…" in log


def test_the_overview_and_the_log_show_the_waitlist(acme: Company, waiting: WaitlistEntry) -> None:
    browser = _signed_in(acme, User.Role.ADMIN)

    overview = browser.get("/t/acme/").content.decode()
    log = browser.get("/t/acme/log/").content.decode()

    for page in (overview, log):
        assert 'id="waitlist"' in page and "late@acme.test" in page and "Late Comer" in page
        assert f"/t/acme/waitlist/{waiting.pk}/drop/" in page


def test_an_admin_drops_someone_from_the_waitlist(acme: Company, waiting: WaitlistEntry) -> None:
    browser = _signed_in(acme, User.Role.ADMIN)

    response = browser.post(f"/t/acme/waitlist/{waiting.pk}/drop/", {"back": "log"})

    assert response.status_code == 302 and response["Location"].endswith("/t/acme/log/")
    assert not WaitlistEntry.objects.exists()
    row = ProvisioningEvent.objects.get(operation="drop")
    assert row.user_name == "late@acme.test" and "admin@acme.test" in row.detail
    assert 'id="waitlist"' not in browser.get("/t/acme/").content.decode()


def test_viewers_cannot_drop_and_see_no_button(acme: Company, waiting: WaitlistEntry) -> None:
    browser = _signed_in(acme, User.Role.VIEWER)

    page = browser.get("/t/acme/").content.decode()
    response = browser.post(f"/t/acme/waitlist/{waiting.pk}/drop/")

    assert "late@acme.test" in page and "/drop/" not in page
    assert response.status_code == 403
    assert WaitlistEntry.objects.exists()


def test_dropping_needs_the_csrf_token(acme: Company, waiting: WaitlistEntry) -> None:
    browser = _signed_in(acme, User.Role.OWNER, csrf=True)

    response = browser.post(f"/t/acme/waitlist/{waiting.pk}/drop/")

    assert response.status_code == 403
    assert WaitlistEntry.objects.exists()


def test_dropping_someone_no_longer_waiting_says_so(acme: Company) -> None:
    browser = _signed_in(acme, User.Role.OWNER)

    response = browser.post("/t/acme/waitlist/not-an-id/drop/", follow=True)

    assert "no longer on the waitlist" in response.content.decode()


@pytest.mark.parametrize("path", ["/t/acme/", "/t/acme/log/"], ids=["overview", "log"])
def test_the_overview_and_the_log_show_deprovisioning_paused_with_the_held_list(
    acme: Company, tripped: str, path: str
) -> None:
    browser = _signed_in(acme, User.Role.OWNER)

    page = browser.get(path).content.decode()

    assert "Deprovisioning paused" in page and "u1@acme.test" in page
    assert "Deactivate (PATCH)" in page and "Release the brake" in page


def test_an_owner_releases_the_brake(scim: Scim, acme: Company, tripped: str) -> None:
    browser = _signed_in(acme, User.Role.OWNER)

    response = browser.post("/t/acme/deprovisioning/release/", {"decision": "release"}, follow=True)

    assert "1 held request(s) go through" in response.content.decode()
    assert Company.objects.get(pk=acme.pk).deprovision_held_since is None
    assert CompanyEvent.objects.get(company=acme, action="brake_released").actor == (
        "owner@acme.test"
    )
    assert scim.patch(f"/Users/{tripped}", DEACTIVATE).status_code == 200


def test_an_owner_confirms(acme: Company, tripped: str) -> None:
    browser = _signed_in(acme, User.Role.OWNER)

    browser.post("/t/acme/deprovisioning/release/", {"decision": "confirm"})

    assert CompanyEvent.objects.filter(company=acme, action="brake_confirmed").exists()


@pytest.mark.parametrize("role", [User.Role.ADMIN, User.Role.VIEWER])
def test_only_owners_release_the_brake(acme: Company, tripped: str, role: str) -> None:
    browser = _signed_in(acme, role)

    page = browser.get("/t/acme/").content.decode()
    response = browser.post("/t/acme/deprovisioning/release/", {"decision": "release"})

    assert "Release the brake" not in page and "An owner of" in page
    assert response.status_code == 403
    assert Company.objects.get(pk=acme.pk).deprovision_held_since is not None


def test_the_log_marks_held_requests_and_waitlist_provisioning(
    scim: Scim, acme: Company, tripped: str
) -> None:
    browser = _signed_in(acme, User.Role.VIEWER)

    page = browser.get("/t/acme/log/").content.decode()

    assert "Held (503)" in page and "Deprovisioning is paused" in page


def test_releasing_needs_the_csrf_token(acme: Company, tripped: str) -> None:
    browser = _signed_in(acme, User.Role.OWNER, csrf=True)

    response = browser.post("/t/acme/deprovisioning/release/", {"decision": "release"})

    assert response.status_code == 403
    assert Company.objects.get(pk=acme.pk).deprovision_held_since is not None
