""" "Refused and failed requests" names each row's cause as its detail page diagnoses it
(directory/diagnosis.py, from RequestTally.error_code): a seat-limit 403 and a request the
deprovisioning brake held are not both "Request failed"."""

from __future__ import annotations

from django.utils import timezone

from tenants.models import Company
from tests.provisioning_ui.test_access_rights import signed_in
from tests.scim_client import Scim, okta_user


def test_seat_limit_and_brake_refusals_are_named_in_the_list_and_on_their_page(
    acme: Company, scim: Scim
) -> None:
    browser = signed_in(acme)
    leaving = scim.post("/Users", okta_user("leaving@acme.test")).json()
    Company.objects.filter(pk=acme.pk).update(seat_limit=1, deprovision_held_since=timezone.now())
    assert scim.post("/Users", okta_user("late@acme.test")).status_code == 403
    assert scim.delete(f"/Users/{leaving['id']}").status_code == 503

    log = browser.get("/t/acme/log/").content.decode()
    refused = log[log.index('id="refused-list"') :]

    assert "Seat limit reached (403)</a>" in refused
    assert "Deprovisioning paused (503)</a>" in refused
    assert "Request failed" not in refused
    held = refused.split('href="/t/acme/log/refused/')[1].split("/")[0]  # newest first
    page = browser.get(f"/t/acme/log/refused/{held}/").content.decode()
    assert "Deprovisioning paused" in page
    assert "releases or confirms the brake on the Overview" in page
