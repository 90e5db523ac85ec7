"""Support-staff commands: success, and bad input that fails clearly and leaves nothing."""

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context, schema_exists

from accounts.models import User
from tenants.models import Company, CompanyEvent


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_company_create_with_everything(db: None) -> None:
    output = run(
        "company_create",
        "--slug",
        "wayne",
        "--name",
        "Wayne Enterprises",
        "--seats",
        "40",
        "--scim-enabled",
        "--admin-email",
        "bruce@wayne.test",
        "--admin-password",
        "Gotham-Knight-42",
    )

    assert "/t/wayne/scim/v2" in output
    company = Company.objects.get(slug="wayne")
    assert (company.name, company.seat_limit, company.scim_enabled) == (
        "Wayne Enterprises",
        40,
        True,
    )
    assert company.scim_changed_by == "command:company_create"
    with schema_context(company.schema_name):
        assert User.objects.get(email="bruce@wayne.test").role == User.Role.OWNER


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--slug", "Wayne", "--name", "W"], "lowercase letters"),
        (["--slug", "acme", "--name", "W"], "already exists"),
        (["--slug", "wayne", "--name", "W", "--admin-email", "bruce@wayne.test"], "go together"),
        (
            [
                "--slug",
                "wayne",
                "--name",
                "W",
                "--admin-email",
                "not-an-email",
                "--admin-password",
                "Gotham-Knight-42",
            ],
            "valid email",
        ),
        (
            [
                "--slug",
                "wayne",
                "--name",
                "W",
                "--admin-email",
                "b@wayne.test",
                "--admin-password",
                "short",
            ],
            "too short",
        ),
    ],
)
def test_company_create_refuses_bad_input(db: None, args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as raised:
        run("company_create", *args)

    assert message in str(raised.value)
    assert not schema_exists("co_wayne")
    assert not Company.objects.filter(slug__in=["wayne", "Wayne"]).exists()


def test_company_scim_switches_and_records(acme: Company) -> None:
    off = ("company_scim", "--slug", "acme", "--disable", "--reason", "Unpaid invoice")
    assert "switched off" in run(*off)
    assert Company.objects.get(slug="acme").scim_enabled is False
    assert "already off" in run(*off)
    assert "switched on" in run("company_scim", "--slug", "acme", "--enable")

    actions = list(
        CompanyEvent.objects.filter(company=acme, action__startswith="scim")
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )
    assert actions == ["scim_disabled", "scim_enabled"]


def test_company_scim_needs_a_known_company(db: None) -> None:
    with pytest.raises(CommandError, match='No company with the slug "nobody"'):
        run("company_scim", "--slug", "nobody", "--enable")
    with pytest.raises(CommandError, match='No company with the slug "public"'):
        run("company_scim", "--slug", "public", "--enable")


def test_company_list_shows_customers_only(db: None) -> None:
    Company.objects.filter(slug="acme").update(seat_limit=12, seats_used=3)

    lines = run("company_list").splitlines()

    assert lines[0].split() == ["SLUG", "NAME", "SCIM", "SEATS", "STATUS"]
    acme_line = next(line for line in lines if line.startswith("acme "))
    assert acme_line.split() == ["acme", "Acme", "Inc", "on", "3", "/", "12", "active"]
    assert not any(line.startswith(("public", "tenant-base")) for line in lines)


def test_bad_arguments_exit_non_zero_with_a_message(db: None) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "company_scim", "--slug", "acme"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    assert "one of the arguments --enable --disable is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_portal_user_add_creates_a_login_in_that_company_only(db: None) -> None:
    output = run(
        "portal_user_add", "--company", "acme", "--email", "Vic@Acme.test", "--role", "viewer"
    )

    assert "vic@acme.test can sign in at /t/acme/ as Viewer (read-only)" in output
    with schema_context("co_acme"):
        assert User.objects.get(email="vic@acme.test").role == "viewer"
    with schema_context("co_outsider"):
        assert not User.objects.filter(email="vic@acme.test").exists()
    with pytest.raises(CommandError, match="already has a login"):
        run("portal_user_add", "--company", "acme", "--email", "vic@acme.test")
