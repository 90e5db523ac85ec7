"""The support admin's company pages as support uses them (issue #17): real URLs under the
slug, a confirmation and a reason before the changes that hurt a customer, the attribute
allow-list as checkboxes, and the company's portal logins managed from here."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from tenants.models import Company, CompanyEvent
from tests.conftest import TEST_PASSWORD, make_portal_user
from tests.support_admin.test_admin import change_form, staff_member

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def lead(db: None) -> Client:
    client = Client()
    client.force_login(staff_member("lead@vendor.test", may_switch_scim=True))
    return client


def _change(client: Client, company: Company, **fields: object) -> tuple[int, str]:
    response = client.post(
        f"/admin/tenants/company/{company.pk}/change/", change_form(company, **fields)
    )
    return response.status_code, response.content.decode()


def test_the_slug_help_and_the_company_page_show_the_real_urls(lead: Client, acme: Company) -> None:
    add = lead.get("/admin/tenants/company/add/").content.decode()
    change = lead.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()

    assert '<code>http://testserver/t/<span class="slug-echo">&lt;slug&gt;</span>/</code>' in add
    assert "/scim/v2</code>" in add and "js/slug_urls.js" in add
    assert "<code>http://testserver/t/acme/scim/v2</code>" in change
    assert 'href="http://testserver/t/acme/"' in change


def test_the_urls_follow_public_base_url(
    lead: Client, acme: Company, settings: pytest.FixtureRequest
) -> None:
    settings.PUBLIC_BASE_URL = "https://id.vendor.example"  # type: ignore[attr-defined]

    change = lead.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()

    assert "<code>https://id.vendor.example/t/acme/scim/v2</code>" in change


def test_lowering_seats_below_usage_asks_for_confirmation_and_a_reason(
    lead: Client, acme: Company
) -> None:
    Company.objects.filter(pk=acme.pk).update(seats_used=38, seat_limit=40)
    acme.refresh_from_db()

    unconfirmed = _change(lead, acme, seat_limit=30)
    no_reason = _change(lead, acme, seat_limit=30, change_confirmed="on")
    above_usage = _change(lead, acme, seat_limit=39)
    acme.refresh_from_db()
    confirmed = _change(
        lead, acme, seat_limit=30, change_confirmed="on", change_reason="Downgraded to 30 seats"
    )

    assert unconfirmed[0] == 200 and "below the 38 seats in use" in unconfirmed[1]
    assert no_reason[0] == 200 and "give a reason" in no_reason[1]
    assert above_usage[0] == 302  # not below usage: no questions
    assert confirmed[0] == 302 and Company.objects.get(pk=acme.pk).seat_limit == 30
    event = CompanyEvent.objects.filter(company=acme, action="seat_limit_changed").first()
    assert event is not None
    assert event.detail == {"from": 39, "to": 30, "reason": "Downgraded to 30 seats"}


def test_suspending_asks_for_confirmation_and_a_reason_kept_in_the_history(
    lead: Client, acme: Company
) -> None:
    unconfirmed = _change(lead, acme, status="suspended")
    confirmed = _change(
        lead, acme, status="suspended", change_confirmed="on", change_reason="Unpaid invoice"
    )

    assert unconfirmed[0] == 200 and "Suspending Acme Inc refuses every request" in unconfirmed[1]
    assert confirmed[0] == 302 and Company.objects.get(pk=acme.pk).status == "suspended"
    event = CompanyEvent.objects.get(company=acme, action="status_changed")
    assert event.detail == {"from": "active", "to": "suspended", "reason": "Unpaid invoice"}


def test_switching_scim_off_in_the_form_asks_for_confirmation(lead: Client, acme: Company) -> None:
    status, page = _change(lead, acme, scim_enabled="")

    assert status == 200 and "refuses every request" in page
    assert Company.objects.get(pk=acme.pk).scim_enabled is True
    assert not CompanyEvent.objects.filter(company=acme, action="scim_disabled").exists()


def test_switching_scim_off_from_the_list_asks_for_a_reason_first(
    lead: Client, acme: Company
) -> None:
    selected = {"action": "disable_scim", "_selected_action": [acme.pk]}

    asked = lead.post("/admin/tenants/company/", selected)
    incomplete = lead.post("/admin/tenants/company/", {**selected, "reason": "Unpaid"})
    still_on = Company.objects.get(pk=acme.pk).scim_enabled
    done = lead.post(
        "/admin/tenants/company/", {**selected, "reason": "Unpaid invoice", "confirmed": "on"}
    )

    assert asked.status_code == 200 and "Acme Inc (acme)" in asked.content.decode()
    assert 'name="reason"' in asked.content.decode()
    assert incomplete.status_code == 200 and still_on is True
    assert done.status_code == 302 and Company.objects.get(pk=acme.pk).scim_enabled is False
    event = CompanyEvent.objects.get(company=acme, action="scim_disabled")
    assert event.detail == {"reason": "Unpaid invoice"}


def test_the_allowlist_is_checkboxes_from_the_schema(lead: Client, acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(attribute_allowlist=["Emails"])
    acme.refresh_from_db()

    page = lead.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()
    status, _ = _change(lead, acme, attribute_allowlist=["name", f"{ENTERPRISE}:department"])

    assert re.search(r'type="checkbox" name="attribute_allowlist" value="emails"[^>]*checked', page)
    assert f'value="{ENTERPRISE}:department"' in page and 'value="title"' in page
    assert 'value="password"' not in page and 'value="userName"' not in page
    assert 'value="id"' not in page and 'value="groups"' not in page
    assert status == 302
    assert Company.objects.get(pk=acme.pk).attribute_allowlist == [
        "name",
        f"{ENTERPRISE}:department",
    ]


def test_support_invites_a_portal_user_who_sets_a_password_once(
    lead: Client, acme: Company
) -> None:
    url = f"/admin/tenants/company/{acme.pk}/portal-logins/"

    response = lead.post(url, {"action": "invite", "email": "New.Admin@Acme.test", "role": "admin"})

    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["new.admin@acme.test"] and "Acme Inc" in message.subject
    link = re.search(r"http://testserver(/t/acme/password-reset/\S+/)", message.body)
    assert link is not None
    browser = Client()
    form = browser.get(link.group(1), follow=True)
    assert form.status_code == 200 and 'name="new_password1"' in form.content.decode()
    browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": TEST_PASSWORD, "new_password2": TEST_PASSWORD},
    )
    signed_in = browser.post(
        "/t/acme/login/", {"username": "new.admin@acme.test", "password": TEST_PASSWORD}
    )
    again = Client().get(link.group(1), follow=True).content.decode()
    assert signed_in.status_code == 302
    assert 'name="new_password1"' not in again  # the link worked once
    with schema_context(acme.schema_name):
        assert User.objects.get(email="new.admin@acme.test").role == "admin"


def test_the_invitation_names_the_company_as_written(lead: Client, acme: Company) -> None:
    acme.name = "Smith & <Sons>"
    acme.save()

    lead.post(
        f"/admin/tenants/company/{acme.pk}/portal-logins/",
        {"action": "invite", "email": "new.admin@acme.test", "role": "admin"},
    )

    (message,) = mail.outbox
    assert "manage Smith & <Sons> on Headcount" in message.body


def test_support_lists_changes_roles_and_switches_logins_off(lead: Client, acme: Company) -> None:
    owner = make_portal_user(acme, email="owner@acme.test")
    viewer = make_portal_user(acme, email="viewer@acme.test", role=User.Role.VIEWER)
    url = f"/admin/tenants/company/{acme.pk}/portal-logins/"

    listing = lead.get(url).content.decode()
    lead.post(url, {"action": "change", "user_id": viewer.pk, "role": "owner"})
    lead.post(url, {"action": "change", "user_id": owner.pk, "role": "owner", "active": "0"})
    lonely = lead.post(
        url, {"action": "change", "user_id": viewer.pk, "role": "viewer"}, follow=True
    ).content.decode()

    assert "owner@acme.test" in listing and "Viewer (read-only)" in listing
    with schema_context(acme.schema_name):
        assert User.objects.get(pk=viewer.pk).role == "owner"
        assert User.objects.get(pk=owner.pk).is_active is False
    assert "only active owner" in lonely
    off = Client().post(
        "/t/acme/login/", {"username": "owner@acme.test", "password": TEST_PASSWORD}
    )
    assert off.status_code == 200  # switched off: the sign-in form again


def test_supports_login_changes_are_in_the_companys_history(lead: Client, acme: Company) -> None:
    owner = make_portal_user(acme, email="owner@acme.test")
    url = f"/admin/tenants/company/{acme.pk}/portal-logins/"
    before = set(CompanyEvent.objects.filter(company=acme).values_list("pk", flat=True))

    lead.post(url, {"action": "invite", "email": "Ann@Acme.test", "role": "viewer"})
    with schema_context(acme.schema_name):
        ann = User.objects.get(email="ann@acme.test")
    lead.post(url, {"action": "change", "user_id": ann.pk, "role": "admin"})
    lead.post(url, {"action": "change", "user_id": ann.pk, "role": "admin", "active": "0"})
    lead.post(url, {"action": "change", "user_id": ann.pk, "role": "admin", "active": "0"})
    lead.post(url, {"action": "change", "user_id": ann.pk, "role": "admin", "active": "1"})
    refused = lead.post(url, {"action": "change", "user_id": owner.pk, "role": "viewer"})
    call_command("portal_user_add", company="acme", email="bob@acme.test", role="viewer")

    history = (
        CompanyEvent.objects.filter(company=acme)
        .exclude(pk__in=before)
        .order_by("created_at", "id")
    )
    assert refused.status_code == 302
    assert [(e.action, e.actor, e.detail) for e in history] == [
        ("login_invited", "lead@vendor.test", {"email": "ann@acme.test", "role": "viewer"}),
        (
            "login_role_changed",
            "lead@vendor.test",
            {"email": "ann@acme.test", "old": "viewer", "new": "admin"},
        ),
        ("login_switched_off", "lead@vendor.test", {"email": "ann@acme.test"}),
        ("login_switched_on", "lead@vendor.test", {"email": "ann@acme.test"}),
        ("login_added", "command:portal_user_add", {"email": "bob@acme.test", "role": "viewer"}),
    ]


def test_inviting_a_taken_or_malformed_address_says_so(lead: Client, acme: Company) -> None:
    make_portal_user(acme, email="owner@acme.test")
    url = f"/admin/tenants/company/{acme.pk}/portal-logins/"

    taken = lead.post(
        url, {"action": "invite", "email": "owner@acme.test", "role": "admin"}, follow=True
    )
    malformed = lead.post(url, {"action": "invite", "email": "not an address", "role": "admin"})

    assert '<li class="error">owner@acme.test already has a login here.</li>' in (
        taken.content.decode()
    )
    assert ">Headcount support</a>" in taken.content.decode()  # the admin's own header kept
    assert (
        malformed.status_code == 200 and "Enter a valid email address" in malformed.content.decode()
    )
    assert mail.outbox == []


def test_staff_who_may_not_change_companies_cannot_manage_logins(acme: Company) -> None:
    viewer = Client()
    with schema_context("public"):
        viewer.force_login(
            User.objects.create_user(email="v@vendor.test", password=TEST_PASSWORD, is_staff=True)
        )

    response = viewer.post(
        f"/admin/tenants/company/{acme.pk}/portal-logins/",
        {"action": "invite", "email": "x@acme.test", "role": "owner"},
    )

    assert response.status_code == 403 and mail.outbox == []


def test_the_company_page_reads_plainly(lead: Client, acme: Company) -> None:
    page = lead.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()

    assert "/t/{slug}/ and /t/{slug}/scim/v2/" in page and "/t//" not in page
    assert "SCIM changed by:" in page and "SCIM changed at:" in page
    assert "Scim changed" not in page


def test_the_confirmation_is_asked_only_for_a_change_that_needs_it(
    lead: Client, acme: Company
) -> None:
    checkbox = re.compile(r'<input type="checkbox" name="change_confirmed"')
    hidden_row = '<div class="form-row hidden field-change_confirmed">'
    Company.objects.filter(pk=acme.pk).update(seats_used=38, seat_limit=40)
    acme.refresh_from_db()

    page = lead.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()
    harmless_but_invalid = _change(lead, acme, deprovision_brake_percent=101)
    risky = _change(lead, acme, seat_limit=30)

    assert not checkbox.search(page) and hidden_row in page
    assert harmless_but_invalid[0] == 200 and not checkbox.search(harmless_but_invalid[1])
    assert risky[0] == 200 and checkbox.search(risky[1]) and hidden_row not in risky[1]
    assert "Tick “Save this change anyway” and give a reason to save it." in risky[1]
    assert "refuses the company's identity provider" in risky[1]
