"""The Overview tells a company's IT admin where the identity provider connection stands:
Not connected yet / Healthy / Failing / Credentials rejected / SCIM switched off, per
credential and overall, with the IdP named and the last day's counts; seat usage live."""

from __future__ import annotations

import re

from django.test import Client
from django_tenants.utils import schema_context

from tenants.models import Company
from tests.provisioning_ui.test_access_rights import signed_in
from tests.scim_client import Scim, okta_user
from tokens.services import credential_revoke, token_issue

OVERVIEW = "/t/acme/"
SPC = "/t/acme/scim/v2/ServiceProviderConfig"


def state(page: str) -> str:
    found = re.search(r'id="connection-state"[^>]*><strong>([^<]+)</strong>', page)
    assert found, "no connection state on the Overview"
    return found.group(1)


def overview(browser: Client) -> str:
    response = browser.get(OVERVIEW)
    assert response.status_code == 200
    return response.content.decode()


def test_a_new_connection_is_not_connected_yet(acme: Company) -> None:
    with schema_context(acme.schema_name):
        token_issue(company=acme, name="Okta", actor="tests")

    page = overview(signed_in(acme))

    assert state(page) == "Not connected yet"
    assert "Access rights" in page


def test_successful_calls_make_it_healthy_and_name_the_idp(acme: Company, scim: Scim) -> None:
    browser = signed_in(acme)
    assert scim.get("/ServiceProviderConfig").status_code == 200
    assert scim.post("/Users", okta_user()).status_code == 201
    assert scim.get("/Users?count=1").status_code == 200

    page = overview(browser)

    assert state(page) == "Healthy"
    assert '<span id="connection-idp">Okta</span> is calling' in page
    assert "3 requests, 0 failed or refused" in page


def test_entra_is_named_from_its_user_agent(acme: Company, scim: Scim) -> None:
    scim.get("/Users?count=1", HTTP_USER_AGENT="Microsoft.AAD.Provisioning")

    assert "Microsoft Entra ID</span> is calling" in overview(signed_in(acme))


def test_failures_after_the_last_success_make_it_failing(acme: Company, scim: Scim) -> None:
    scim.get("/Users?count=1")
    scim.post("/Users", okta_user())
    assert scim.post("/Users", okta_user()).status_code == 409  # uniqueness

    page = overview(signed_in(acme))

    assert state(page) == "Failing"
    assert "3 requests, 1 failed or refused" in page


def test_a_credential_left_failing_does_not_make_a_newer_success_failing(
    acme: Company, client: Client
) -> None:
    with schema_context(acme.schema_name):
        old = token_issue(company=acme, name="Old token", actor="tests")
        new = token_issue(company=acme, name="New token", actor="tests")

    def create(secret: str) -> int:
        return client.post(
            "/t/acme/scim/v2/Users",
            okta_user(),
            content_type="application/scim+json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        ).status_code

    assert (create(old.secret), create(old.secret)) == (201, 409)
    # The identity provider moved to the new token, which works.
    assert client.get(SPC, HTTP_AUTHORIZATION=f"Bearer {new.secret}").status_code == 200

    page = overview(signed_in(acme))

    assert state(page) == "Healthy"
    assert re.search(r"<td>[^<]*Old token[^<]*</td><td>Failing</td>", page)


def test_a_success_after_a_failure_is_healthy_again(acme: Company, scim: Scim) -> None:
    scim.get("/Users/00000000-0000-0000-0000-000000000000")
    scim.get("/Users?count=1")

    assert state(overview(signed_in(acme))) == "Healthy"


def test_a_revoked_token_still_calling_is_credentials_rejected_naming_it(
    acme: Company, client: Client
) -> None:
    with schema_context(acme.schema_name):
        issued = token_issue(company=acme, name="Okta production", actor="tests")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {issued.secret}", "HTTP_USER_AGENT": "Okta SCIM"}
    assert client.get(SPC, **auth).status_code == 200
    with schema_context(acme.schema_name):
        credential_revoke(credential_id=str(issued.credential.pk), actor="tests")
    assert client.get(SPC, **auth).status_code == 401

    page = overview(signed_in(acme))

    assert state(page) == "Credentials rejected"
    assert f"Okta production ({issued.credential.display_prefix}…), revoked" in page
    assert "/t/acme/access/" in page


def test_scim_switched_off_wins_over_everything(acme: Company, scim: Scim) -> None:
    scim.get("/Users?count=1")
    Company.objects.filter(pk=acme.pk).update(scim_enabled=False)
    assert scim.get("/Users?count=1").status_code == 403

    page = overview(signed_in(acme))

    assert state(page) == "SCIM switched off"
    assert "not active for Acme Inc" in page


def test_seat_usage_is_live_at_the_limit(acme: Company) -> None:
    # The hourly check last saw room; the company row says every seat is taken now.
    Company.objects.filter(pk=acme.pk).update(seat_limit=38, seats_used=38, seat_level="ok")

    page = overview(signed_in(acme))

    assert "Seat limit reached" in page
    assert "(38 of 38)" in page


def test_below_the_warning_level_there_is_no_seat_notice(acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(seat_limit=38, seats_used=10, seat_level="full")

    assert 'id="seat-warning"' not in overview(signed_in(acme))
