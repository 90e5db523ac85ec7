"""Support staff in the Django admin: who may flip the SCIM switch, and that it is recorded."""

import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from accounts.models import User
from tenants.models import Company, CompanyEvent
from tests.conftest import TEST_PASSWORD
from tokens.services import basic_issue, basic_regenerate, token_issue


def staff_member(email: str, *, may_switch_scim: bool) -> User:
    with schema_context("public"):
        user = User.objects.create_user(email=email, password=TEST_PASSWORD, is_staff=True)
        codenames = ["view_company", "change_company", "add_company"]
        if may_switch_scim:
            codenames.append("switch_scim")
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="tenants", codename__in=codenames)
        )
        return user


def change_form(company: Company, **overrides: object) -> dict[str, object]:
    """What the browser posts: the fields, plus the read-only history inline's rows."""
    event_ids = list(CompanyEvent.objects.filter(company=company).values_list("id", flat=True))
    data: dict[str, object] = {
        "name": company.name,
        "status": company.status,
        "seat_limit": "" if company.seat_limit is None else company.seat_limit,
        "scim_enabled": "on" if company.scim_enabled else "",
        "username_immutable": "on" if company.username_immutable else "",
        "username_is_work_email": "on" if company.username_is_work_email else "",
        "attribute_allowlist": list(company.attribute_allowlist or []),
        "scim_strict": "on" if company.scim_strict else "",
        "scim_delete_action": company.scim_delete_action,
        "deprovision_brake_percent": company.deprovision_brake_percent,
        "deprovision_brake_minimum": company.deprovision_brake_minimum,
        "deprovision_brake_window_minutes": company.deprovision_brake_window_minutes,
        "events-TOTAL_FORMS": str(len(event_ids)),
        "events-INITIAL_FORMS": str(len(event_ids)),
        **{f"events-{index}-id": event_id for index, event_id in enumerate(event_ids)},
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value != ""}


@pytest.fixture
def staff_client(db: None) -> Client:
    client = Client()
    client.force_login(staff_member("helpdesk@vendor.test", may_switch_scim=False))
    return client


@pytest.fixture
def lead_client(db: None) -> Client:
    client = Client()
    client.force_login(staff_member("lead@vendor.test", may_switch_scim=True))
    return client


def test_company_list_shows_scim_state_and_seats(lead_client: Client) -> None:
    response = lead_client.get("/admin/tenants/company/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Acme Inc" in page and "Outsider Ltd" in page
    assert "0 / unlimited" in page
    assert "tenant-base" not in page and "Headcount (public schema)" not in page


def test_company_search_and_filter(lead_client: Client) -> None:
    found = lead_client.get("/admin/tenants/company/", {"q": "outsid"}).content.decode()
    filtered = lead_client.get(
        "/admin/tenants/company/", {"scim_enabled__exact": "0"}
    ).content.decode()

    assert "Outsider Ltd" in found and "Acme Inc" not in found
    assert "Acme Inc" not in filtered


def test_staff_without_permission_cannot_switch_scim(staff_client: Client, acme: Company) -> None:
    acme_id = acme.pk
    Company.objects.filter(pk=acme_id).update(scim_enabled=False)

    form = staff_client.get(f"/admin/tenants/company/{acme_id}/change/").content.decode()
    staff_client.post(
        f"/admin/tenants/company/{acme_id}/change/", change_form(acme, scim_enabled="on")
    )
    action = staff_client.post(
        "/admin/tenants/company/", {"action": "enable_scim", "_selected_action": [acme_id]}
    )

    assert 'name="scim_enabled"' not in form
    assert Company.objects.get(pk=acme_id).scim_enabled is False
    # Django refuses an action it does not offer ("No action selected").
    assert 'value="enable_scim"' not in staff_client.get("/admin/tenants/company/").content.decode()
    assert action.status_code in (200, 302)
    assert not CompanyEvent.objects.filter(company_id=acme_id, action__startswith="scim").exists()


def test_permitted_staff_switch_scim_and_it_is_recorded(lead_client: Client, acme: Company) -> None:
    acme_id = acme.pk

    response = lead_client.post(
        f"/admin/tenants/company/{acme_id}/change/",
        change_form(acme, scim_enabled="", change_reason="Contract ended", change_confirmed="on"),
    )

    assert response.status_code == 302
    company = Company.objects.get(pk=acme_id)
    assert company.scim_enabled is False
    assert company.scim_changed_by == "lead@vendor.test"
    assert company.scim_changed_at is not None
    event = CompanyEvent.objects.filter(company_id=acme_id).first()
    assert event is not None
    assert (event.action, event.actor) == (CompanyEvent.Action.SCIM_DISABLED, "lead@vendor.test")
    assert event.detail == {"reason": "Contract ended"}


def test_permitted_staff_switch_scim_with_the_list_action(
    lead_client: Client, acme: Company
) -> None:
    Company.objects.filter(pk=acme.pk).update(scim_enabled=False)

    lead_client.post(
        "/admin/tenants/company/", {"action": "enable_scim", "_selected_action": [acme.pk]}
    )

    assert Company.objects.get(pk=acme.pk).scim_enabled is True
    assert CompanyEvent.objects.filter(company_id=acme.pk, action="scim_enabled").exists()


def test_staff_who_may_only_look_cannot_release_the_brake(acme: Company) -> None:
    from django.utils import timezone

    with schema_context("public"):
        looker = User.objects.create_user(
            email="looker@vendor.test", password=TEST_PASSWORD, is_staff=True
        )
        looker.user_permissions.set(
            Permission.objects.filter(content_type__app_label="tenants", codename="view_company")
        )
        client = Client()
        client.force_login(looker)
    Company.objects.filter(pk=acme.pk).update(deprovision_held_since=timezone.now())

    for action in ("release_brake", "confirm_deprovisioning"):
        client.post("/admin/tenants/company/", {"action": action, "_selected_action": [acme.pk]})

    assert Company.objects.get(pk=acme.pk).deprovision_held_since is not None
    assert not CompanyEvent.objects.filter(company_id=acme.pk, action__startswith="brake").exists()


def test_seat_limit_change_is_recorded(lead_client: Client, acme: Company) -> None:
    lead_client.post(f"/admin/tenants/company/{acme.pk}/change/", change_form(acme, seat_limit=50))

    assert Company.objects.get(pk=acme.pk).seat_limit == 50
    event = CompanyEvent.objects.get(company_id=acme.pk, action="seat_limit_changed")
    assert event.detail == {"from": None, "to": 50}


def test_staff_create_a_company_in_the_admin(lead_client: Client) -> None:
    response = lead_client.post(
        "/admin/tenants/company/add/",
        {
            "slug": "hooli",
            "name": "Hooli",
            "seat_limit": "10",
            "scim_enabled": "on",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    company = Company.objects.get(slug="hooli")
    assert company.scim_enabled and company.seat_limit == 10
    assert schema_exists("co_hooli")


def test_admin_refuses_a_bad_slug_with_a_message(lead_client: Client) -> None:
    response = lead_client.post(
        "/admin/tenants/company/add/",
        {"slug": "Not OK", "name": "X", "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"},
    )

    assert response.status_code == 200
    assert "lowercase letters, digits and hyphens" in response.content.decode()
    assert not Company.objects.filter(name="X").exists()


def test_superuser_saves_a_company_with_its_history_shown(support_superuser: User) -> None:
    acme = Company.objects.get(slug="acme")
    client = Client()
    client.force_login(support_superuser)
    page = client.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()

    response = client.post(
        f"/admin/tenants/company/{acme.pk}/change/", change_form(acme, seat_limit=7)
    )

    assert "History" in page and "Company created" in page
    assert response.status_code == 302
    assert Company.objects.get(pk=acme.pk).seat_limit == 7


def test_support_sees_a_companys_credential_activity(support_superuser: User) -> None:
    acme = Company.objects.get(slug="acme")
    with schema_context(acme.schema_name):
        issued = token_issue(company=acme, name="Okta production", actor="ada@acme.test")
    client = Client()
    client.force_login(support_superuser)

    page = client.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()

    assert "Credential activity" in page
    assert "1 usable credential(s)" in page
    assert "Okta production" in page and "ada@acme.test" in page
    assert issued.credential.display_prefix in page and issued.secret not in page


def test_support_sets_scim_policies_and_bad_allowlists_are_refused(lead_client: Client) -> None:
    acme = Company.objects.get(slug="acme")

    refused = lead_client.post(
        f"/admin/tenants/company/{acme.pk}/change/",
        change_form(acme, attribute_allowlist=["name", "nosuch"]),
    )
    saved = lead_client.post(
        f"/admin/tenants/company/{acme.pk}/change/",
        change_form(acme, username_immutable="on", attribute_allowlist=["name", "emails"]),
    )

    assert (
        refused.status_code == 200
        and "nosuch is not one of the available choices" in refused.content.decode()
    )
    assert saved.status_code == 302
    company = Company.objects.get(pk=acme.pk)
    assert company.username_immutable is True and company.attribute_allowlist == ["name", "emails"]
    assert CompanyEvent.objects.filter(company=acme, action="policy_changed").count() == 2


def test_support_sets_strict_values_and_the_deprovisioning_policy(lead_client: Client) -> None:
    acme = Company.objects.get(slug="acme")

    refused = lead_client.post(
        f"/admin/tenants/company/{acme.pk}/change/",
        change_form(acme, scim_delete_action="shred"),
    )
    saved = lead_client.post(
        f"/admin/tenants/company/{acme.pk}/change/",
        change_form(acme, scim_strict="on", scim_delete_action="deactivate"),
    )

    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert saved.status_code == 302
    company = Company.objects.get(pk=acme.pk)
    assert company.scim_strict is True and company.scim_delete_action == "deactivate"
    changed = CompanyEvent.objects.filter(company=acme, action="policy_changed")
    assert {event.detail["policy"] for event in changed} == {"scim_strict", "scim_delete_action"}


def test_support_sees_usage_flags_and_recent_failures(
    support_superuser: User, scim: object
) -> None:
    acme = Company.objects.get(slug="acme")
    Company.objects.filter(pk=acme.pk).update(seat_level="over", seat_limit=1, seats_used=3)
    with schema_context(acme.schema_name):
        from directory.models import ProvisioningEvent

        ProvisioningEvent.objects.create(
            operation="create",
            resource_type="User",
            user_name="x@acme.test",
            outcome="failed",
            status=403,
            detail="Seat limit reached: 1 of 1 seats in use.",
            idp="Okta",
        )
    connection.set_schema_to_public()
    client = Client()
    client.force_login(support_superuser)

    listing = client.get("/admin/tenants/company/", {"seat_level__exact": "over"}).content.decode()
    page = client.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()

    assert "Acme Inc" in listing and "Over the limit" in listing and "3 / 1" in listing
    assert (
        "Recent provisioning failures" in page
        and "Seat limit reached: 1 of 1 seats in use." in page
    )


def test_support_sign_in_without_a_next_field_lands_on_the_admin(db: None) -> None:
    # Scripts and password managers post the form without the hidden `next` field.
    staff_member("script@headcount.example", may_switch_scim=True)
    client = Client()

    response = client.post(
        "/admin/login/", {"username": "script@headcount.example", "password": TEST_PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_raising_the_seat_limit_in_the_admin_provisions_the_waitlist(
    lead_client: Client, acme: Company, scim: Any
) -> None:
    from directory.models import Member, WaitlistEntry

    Company.objects.filter(pk=acme.pk).update(seat_limit=0)
    scim.post("/Users", {"userName": "waiting@acme.test"})
    connection.set_schema_to_public()
    page = lead_client.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()

    lead_client.post(
        f"/admin/tenants/company/{acme.pk}/change/",
        change_form(Company.objects.get(pk=acme.pk), seat_limit=1),
    )

    assert "waiting@acme.test" in page and "1 waiting" in page
    with schema_context(acme.schema_name):
        assert Member.objects.filter(user_name="waiting@acme.test", active=True).exists()
        assert not WaitlistEntry.objects.exists()
    event = CompanyEvent.objects.get(company_id=acme.pk, action="seat_limit_changed")
    assert event.actor == "lead@vendor.test"
    assert event.detail == {
        "from": 0,
        "to": 1,
        "waitlist_now": 1,
        "waitlist_later": 0,
        "waitlist_waiting": 0,
    }


@pytest.mark.parametrize(
    ("action", "recorded"),
    [("release_brake", "brake_released"), ("confirm_deprovisioning", "brake_confirmed")],
)
def test_support_releases_or_confirms_a_tripped_brake(
    lead_client: Client, acme: Company, action: str, recorded: str
) -> None:
    from django.utils import timezone

    Company.objects.filter(pk=acme.pk).update(deprovision_held_since=timezone.now())
    page = lead_client.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()

    response = lead_client.post(
        "/admin/tenants/company/", {"action": action, "_selected_action": [acme.pk]}
    )

    assert "Tripped" in page
    assert response.status_code == 302
    assert Company.objects.get(pk=acme.pk).deprovision_held_since is None
    event = CompanyEvent.objects.get(company_id=acme.pk, action=recorded)
    assert event.actor == "lead@vendor.test"


def test_brake_settings_out_of_range_are_refused(lead_client: Client, acme: Company) -> None:
    response = lead_client.post(
        f"/admin/tenants/company/{acme.pk}/change/",
        change_form(acme, deprovision_brake_percent=150),
    )

    assert response.status_code == 200  # the form again, with the error
    assert Company.objects.get(pk=acme.pk).deprovision_brake_percent == 20


@pytest.mark.parametrize(
    ("used", "limit", "level", "label"),
    [(5, 5, "full", "Full"), (5, 3, "over", "Over the limit"), (4, 5, "warning", "Nearly full")],
)
def test_the_seat_level_is_the_one_of_the_seats_now_not_of_the_hourly_check(
    lead_client: Client, used: int, limit: int, level: str, label: str
) -> None:
    # The hourly check last saw room; SCIM writes have filled the seats since.
    acme = Company.objects.get(slug="acme")
    Company.objects.filter(pk=acme.pk).update(
        seats_used=used, seat_limit=limit, seat_level="ok", seats_checked_at=None
    )

    listing = lead_client.get("/admin/tenants/company/").content.decode()
    page = lead_client.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()
    chosen = lead_client.get("/admin/tenants/company/", {"seat_level__exact": level})
    ok = lead_client.get("/admin/tenants/company/", {"seat_level__exact": "ok"}).content.decode()

    acme_row = re.search(r"<tr>(?:(?!</tr>).)*Acme Inc.*?</tr>", listing, re.S)
    assert acme_row is not None and f">{label}<" in acme_row.group(0)
    assert re.search(rf"Seat level:</label>\s*<div[^>]*>{label}</div>", page)
    assert "Seats last recounted (hourly seat check)" in page and "Not yet." in page
    assert "Acme Inc" in chosen.content.decode() and "Outsider Ltd" not in chosen.content.decode()
    assert "Acme Inc" not in ok and "Outsider Ltd" in ok


def test_support_sees_each_events_prefix_as_it_was(support_superuser: User) -> None:
    acme = Company.objects.get(slug="acme")
    with schema_context(acme.schema_name):
        issued = basic_issue(company=acme, actor="ada@acme.test")
        again = basic_regenerate(
            company=acme, credential_id=str(issued.credential.pk), actor="ada@acme.test"
        )
    client = Client()
    client.force_login(support_superuser)

    page = client.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()

    old, new = issued.credential.display_prefix, again.credential.display_prefix
    created = re.search(r"<tr><td>[^<]*</td><td>Created</td>.*?</tr>", page)
    regenerated = re.search(r"<tr><td>[^<]*</td><td>Secret regenerated</td>.*?</tr>", page)
    assert created and f"{old}…" in created.group() and new not in created.group()
    assert regenerated and f"{new}…" in regenerated.group()
