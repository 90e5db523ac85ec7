"""Each log entry has a detail page: the request, the answer, who sent it, and what to do
about a failure; members and groups link to their history and back."""

from __future__ import annotations

import html
import json
import re

from django.test import Client
from django_tenants.utils import schema_context

from directory.models import ProvisioningEvent, RequestTally
from tenants.models import Company
from tests.provisioning_ui.test_access_rights import signed_in
from tests.scim.test_bulk import BULK_REQUEST
from tests.scim_client import PATCH_OP, Scim, okta_user
from tokens.models import Credential
from tokens.services import credential_revoke, token_issue


def latest_event(company: Company) -> ProvisioningEvent:
    with schema_context(company.schema_name):
        event = ProvisioningEvent.objects.order_by("-id").first()
    assert event is not None
    return event


def detail(browser: Client, event: ProvisioningEvent) -> str:
    response = browser.get(f"/t/acme/log/{event.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_seat_limit_failure_says_who_can_raise_it(acme: Company, scim: Scim) -> None:
    Company.objects.filter(pk=acme.pk).update(seat_limit=0, seats_used=0)
    response = scim.post("/Users", okta_user(password="hunter2-secret"))
    assert response.status_code == 403
    event = latest_event(acme)

    page = detail(signed_in(acme), event)

    assert "What to do: Seat limit reached" in page
    assert "ask Headcount support to raise the seat limit" in page
    assert '<code id="request-line">POST /Users</code>' in page
    assert response["X-Request-ID"] in page
    assert "Bearer token Okta" in page
    assert "Okta <span" in page  # the IdP, named
    assert "test.user@okta.local" in page  # the redacted body …
    assert "hunter2-secret" not in page  # … without its secrets


def test_a_uniqueness_failure_links_the_existing_user(acme: Company, scim: Scim) -> None:
    first = scim.post("/Users", okta_user()).json()
    assert scim.post("/Users", okta_user()).status_code == 409

    page = detail(signed_in(acme), latest_event(acme))

    assert "What to do: This user exists already" in page
    assert f'<a href="/t/acme/members/{first["id"]}/">Test User</a>' in page


def test_a_mutability_failure_names_the_company_policy(acme: Company, scim: Scim) -> None:
    user = scim.post("/Users", okta_user()).json()
    Company.objects.filter(pk=acme.pk).update(username_immutable=True)
    renamed = scim.patch(
        f"/Users/{user['id']}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "userName", "value": "x@y.z"}],
        },
    )
    assert renamed.status_code == 400

    page = detail(signed_in(acme), latest_event(acme))

    assert "What to do: This attribute cannot change" in page
    assert "userName can change: No" in page
    assert f"PATCH /Users/{user['id']}" in page


def test_an_invalid_value_names_the_mapping_in_okta_and_entra(acme: Company, scim: Scim) -> None:
    assert scim.post("/Users", okta_user(active="maybe")).status_code == 400

    page = detail(signed_in(acme), latest_event(acme))

    assert "What to do: Invalid value" in page
    assert "To App → Attribute Mappings: edit or remove the mapping of “active”" in page
    assert "Provision Microsoft Entra ID Users" in page


def test_a_revoked_credential_is_in_the_log_with_its_request_id_and_fix(
    acme: Company, client: Client
) -> None:
    with schema_context(acme.schema_name):
        issued = token_issue(company=acme, name="Okta production", actor="tests")
        credential_revoke(credential_id=str(issued.credential.pk), actor="tests")
    refused = client.get("/t/acme/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    browser = signed_in(acme)

    log = browser.get("/t/acme/log/").content.decode()
    with schema_context(acme.schema_name):
        tally = RequestTally.objects.get()
    page = browser.get(f"/t/acme/log/refused/{tally.pk}/")

    assert refused["X-Request-ID"] in log
    assert f'href="/t/acme/log/refused/{tally.pk}/">Revoked credential (401)' in log
    text = page.content.decode()
    assert "What to do: Credentials rejected" in text
    assert "“Bearer token Okta production" in text and "was revoked" in text
    assert 'href="/t/acme/access/"' in text
    assert refused["X-Request-ID"] in text


def refused_page(acme: Company) -> str:
    with schema_context(acme.schema_name):
        tally = RequestTally.objects.get()
    response = signed_in(acme).get(f"/t/acme/log/refused/{tally.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_refused_seat_limit_says_seats_not_scim_off(acme: Company, scim: Scim) -> None:
    Company.objects.filter(pk=acme.pk).update(seat_limit=0, seats_used=0)
    assert scim.post("/Users", okta_user()).status_code == 403

    page = refused_page(acme)

    assert "What to do: Seat limit reached" in page
    assert "seat waitlist" in page and "raise the seat limit" in page
    assert "Seat limit reached: 0 of 0 seats in use" in page  # the answer, as sent
    assert "SCIM switched off" not in page and "SCIM provisioning is not active" not in page


def _read_only_write_refused(acme: Company, client: Client) -> None:
    """A read-only token tries to create a user, and is refused (403)."""
    with schema_context(acme.schema_name):
        issued = token_issue(
            company=acme, name="Audit", actor="tests", scope=Credential.Scope.READ_ONLY
        )
    assert Scim(client, issued.secret).post("/Users", okta_user()).status_code == 403


def test_a_refused_read_only_write_says_use_a_full_access_token(
    acme: Company, client: Client
) -> None:
    _read_only_write_refused(acme, client)

    page = refused_page(acme)

    assert "What to do: Read-only token" in page
    assert "generate a token with Full access" in page
    assert 'href="/t/acme/access/"' in page
    assert "SCIM switched off" not in page and "Only Headcount support" not in page


def test_a_read_only_403_recorded_without_its_code_is_told_from_the_credential(
    acme: Company, client: Client
) -> None:
    _read_only_write_refused(acme, client)
    with schema_context(acme.schema_name):
        RequestTally.objects.update(error_code="", detail="")  # as rows written before

    page = refused_page(acme)

    assert "What to do: Read-only token" in page


def test_a_suspended_company_is_named_suspended(acme: Company, scim: Scim) -> None:
    Company.objects.filter(pk=acme.pk).update(status=Company.Status.SUSPENDED)
    assert scim.get("/Users").status_code == 403

    page = refused_page(acme)

    assert "What to do: Company suspended" in page
    assert "Acme Inc is suspended" in page and "Only Headcount support" in page


def test_a_refused_read_does_not_point_at_an_error_it_does_not_show(
    acme: Company, scim: Scim
) -> None:
    assert scim.get('/Users?filter=userName%20zz%20"x"').status_code == 400

    page = refused_page(acme)

    assert 'id="error-detail"' not in page
    assert "error above" not in page
    assert "request id" in page


def test_members_link_to_their_history_and_back(acme: Company, scim: Scim) -> None:
    user = scim.post("/Users", okta_user()).json()
    other = scim.post("/Users", okta_user("other@okta.local", externalId="o")).json()
    browser = signed_in(acme)

    member_page = browser.get(f"/t/acme/members/{user['id']}/").content.decode()
    history_link = re.search(r'id="member-history" href="([^"]+)"', member_page)
    assert history_link
    history = browser.get(history_link.group(1).replace("&amp;", "&")).content.decode()

    assert "1 entry" in history
    assert f'<a href="/t/acme/members/{user["id"]}/">test.user@okta.local</a>' in history
    assert other["id"] not in history


def test_groups_link_to_their_history(acme: Company, scim: Scim) -> None:
    group = scim.post("/Groups", {"displayName": "Admins"}).json()
    browser = signed_in(acme)

    page = browser.get(f"/t/acme/groups/{group['id']}/").content.decode()

    assert f"resource={group['id']}" in page
    history = browser.get(f"/t/acme/log/?outcome=all&resource={group['id']}").content.decode()
    assert f'<a href="/t/acme/groups/{group["id"]}/">Admins</a>' in history


def test_an_unknown_entry_is_a_404(acme: Company) -> None:
    browser = signed_in(acme)

    assert browser.get("/t/acme/log/999999999/").status_code == 404
    assert browser.get("/t/acme/log/refused/999999999/").status_code == 404


def test_the_entry_says_what_headcount_read_in_the_idps_dialect(acme: Company, scim: Scim) -> None:
    user = scim.post("/Users", okta_user(password="hunter2-secret")).json()
    assert latest_event(acme).normalised is None  # Okta's create is canonical already
    patched = scim.patch(
        f"/Users/{user['id']}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {
                    "op": "Add",
                    "path": "addresses",
                    "value": [{"type": "work", "country": "United States"}],
                },
                {"op": "Replace", "path": "PASSWORD", "value": "hunter2-secret"},
            ],
        },
    )
    assert patched.status_code == 200, patched.content
    event = latest_event(acme)

    page = detail(signed_in(acme), event)

    assert event.normalised is not None
    assert {"attribute": "active", "sent": '"False"', "stored": "false"} in event.normalised
    assert "hunter2-secret" not in str(event.normalised)
    assert (
        "Headcount read <code>Operations[0].op</code> <code>&quot;Replace&quot;</code> as <code>replace</code>"
        in page
    )
    assert "<code>active</code> <code>&quot;False&quot;</code> as <code>false</code>" in page
    assert "<code>United States</code> as <code>US</code>" in page
    assert "hunter2-secret" not in page


def test_an_entra_group_patch_notes_its_capitalised_ops(acme: Company, scim: Scim) -> None:
    user = scim.post("/Users", okta_user()).json()
    group = scim.post("/Groups", {"displayName": "Admins"}).json()
    entra = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Add", "path": "members", "value": [{"value": user["id"]}]}],
    }

    assert scim.patch(f"/Groups/{group['id']}", entra).status_code == 204

    assert latest_event(acme).normalised == [
        {"attribute": "Operations[0].op", "sent": '"Add"', "stored": "add"}
    ]


def test_the_request_as_stored_is_indented_json(acme: Company, scim: Scim) -> None:
    Company.objects.filter(pk=acme.pk).update(seat_limit=0, seats_used=0)
    assert scim.post("/Users", okta_user()).status_code == 403

    page = detail(signed_in(acme), latest_event(acme))

    shown = re.search(r'<pre id="entry-request">(.*?)</pre>', page, re.S)
    assert shown
    stored = html.unescape(shown.group(1))
    assert json.loads(stored)["active"] is True  # JSON, as the identity provider sent it
    assert '\n  "active": true' in stored  # indented
    assert "True" not in stored and "'" not in stored


def test_a_failed_bulk_patch_names_the_user_in_its_request_line(acme: Company, scim: Scim) -> None:
    user = scim.post("/Users", okta_user()).json()
    patch = {"method": "PATCH", "path": f"/Users/{user['id']}", "data": {"Operations": "no"}}
    reply = scim.post("/Bulk", {"schemas": [BULK_REQUEST], "Operations": [patch]})
    assert reply.status_code == 200 and reply.json()["Operations"][0]["status"] == "400"

    event = latest_event(acme)
    page = detail(signed_in(acme), event)

    assert (event.operation, event.outcome) == ("patch", "failed")
    assert f'<code id="request-line">PATCH /Users/{user["id"]}</code>' in page
