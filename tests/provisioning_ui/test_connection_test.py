"""Test connection on the Overview: the calls Okta's "Test API Credentials" and Entra ID's
"Test Connection" send, through the whole request stack, scored; nothing changes."""

from __future__ import annotations

import re

from django_tenants.utils import schema_context

from accounts.models import User
from directory.models import Member, ProvisioningEvent, RequestTally
from tenants.models import Company
from tests.provisioning_ui.test_access_rights import signed_in
from tests.provisioning_ui.test_connection_status import overview, state
from tests.scim_client import Scim, okta_user
from tests.security.test_csrf import TOKEN_FIELD, strict_browser
from tokens.models import Credential, CredentialEvent

TEST = "/t/acme/connection/test/"


def rows(page: str) -> list[str]:
    return re.findall(r'<tr class="(succeeded|failed)">', page)


def test_a_healthy_company_passes_every_probe(acme: Company, scim: Scim) -> None:
    scim.post("/Users", okta_user())
    browser = signed_in(acme)
    with schema_context(acme.schema_name):
        before = (Member.objects.count(), ProvisioningEvent.objects.count())

    response = browser.post(TEST, follow=True)

    page = response.content.decode()
    assert response.status_code == 200
    assert response.redirect_chain == [(TEST, 302)]  # a reload does not send the form again
    assert "Passed: every probe succeeded" in page
    assert rows(page) == ["succeeded"] * 6
    assert "GET /ServiceProviderConfig" in page and "GET /Schemas" in page
    assert "filter=userName%20eq" in page
    assert 'action="/t/acme/connection/test/"' in page  # "Test again" still in the company
    with schema_context(acme.schema_name):
        assert (Member.objects.count(), ProvisioningEvent.objects.count()) == before


def test_the_probe_credential_is_gone_and_never_counted(acme: Company) -> None:
    browser = signed_in(acme)

    browser.post(TEST)

    with schema_context(acme.schema_name):
        assert not Credential.objects.filter(internal=True).exists()
        assert not CredentialEvent.objects.exists()
        assert not RequestTally.objects.exists()
    assert state(overview(browser)) == "Not connected yet"


def test_while_scim_is_off_the_scorecard_shows_the_403_and_its_fix(
    acme: Company, scim: Scim
) -> None:
    scim.get("/Users?count=1")
    Company.objects.filter(pk=acme.pk).update(scim_enabled=False)
    browser = signed_in(acme)

    page = browser.post(TEST, follow=True).content.decode()

    assert "Failed: 6 of 6 probes failed" in page
    assert rows(page) == ["failed"] * 6
    assert "<td>403</td>" in page
    assert "SCIM provisioning is not active for Acme Inc" in page
    assert "Only Headcount support can switch SCIM provisioning on" in page
    with schema_context(acme.schema_name):
        assert not RequestTally.objects.exists()  # the probes' 403s are not the IdP's
        assert not Credential.objects.filter(internal=True).exists()


def test_viewers_cannot_run_it(acme: Company) -> None:
    viewer = signed_in(acme, role=User.Role.VIEWER, email="viewer@acme.test")

    assert viewer.post(TEST).status_code == 403
    assert viewer.get(TEST).status_code == 403
    assert 'id="test-connection"' not in overview(viewer)


def test_opened_directly_it_offers_to_run_the_test(acme: Company) -> None:
    browser = signed_in(acme)

    response = browser.get(TEST)

    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<form method="post" action="/t/acme/connection/test/" id="run-test">', page)
    assert "Run the test</button>" in page
    assert rows(page) == []  # nothing was run by opening it
    with schema_context(acme.schema_name):
        assert not Credential.objects.filter(internal=True).exists()


def test_reloading_the_result_shows_it_again_without_running_it(acme: Company) -> None:
    browser = signed_in(acme)
    browser.post(TEST)
    # Probes run now would fail: the page shows the test that was run, not a new one.
    Company.objects.filter(pk=acme.pk).update(scim_enabled=False)

    reloaded = browser.get(TEST).content.decode()

    assert "Passed: every probe succeeded" in reloaded
    assert rows(reloaded) == ["succeeded"] * 6
    assert "Tested <time" in reloaded and "Test again</button>" in reloaded


def test_it_needs_the_csrf_token_from_the_overview(acme: Company) -> None:
    browser = strict_browser(acme)
    page = browser.get("/t/acme/").content.decode()
    token = TOKEN_FIELD.search(page[page.index('id="test-connection"') :])
    assert token

    assert browser.post(TEST).status_code == 403
    assert browser.post(TEST, {"csrfmiddlewaretoken": token.group(1)}).status_code == 302


def test_the_probe_credential_can_only_read(acme: Company, client: object) -> None:
    # Its minute of life is spent on GETs: leaked in that minute, it could still write nothing.
    from django.test import Client

    from tokens.services import probe_token_issue

    issued = probe_token_issue(company=acme)
    browser = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {issued.secret}"}

    read = browser.get("/t/acme/scim/v2/Users?count=1", **auth)
    write = browser.post(
        "/t/acme/scim/v2/Users",
        okta_user("probe@acme.test"),
        content_type="application/scim+json",
        **auth,
    )

    assert read.status_code == 200
    assert write.status_code == 403
    with schema_context(acme.schema_name):
        assert not Member.objects.filter(user_name="probe@acme.test").exists()
