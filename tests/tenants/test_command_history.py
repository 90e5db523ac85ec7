"""What the support commands leave in a company's history: the same entries, reasons and
actors (`command:<name>`) as the admin's path."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from events.selectors import company_events_after
from tenants.models import Company, CompanyEvent
from webhooks.models import WebhookEndpoint


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_company_scim_disable_needs_a_reason_and_keeps_it(acme: Company) -> None:
    with pytest.raises(CommandError, match="needs a reason"):
        run("company_scim", "--slug", "acme", "--disable")
    assert Company.objects.get(pk=acme.pk).scim_enabled

    run("company_scim", "--slug", "acme", "--disable", "--reason", "Unpaid invoice")

    event = CompanyEvent.objects.get(company=acme, action=CompanyEvent.Action.SCIM_DISABLED)
    assert (event.actor, event.detail) == ("command:company_scim", {"reason": "Unpaid invoice"})


def test_company_status_suspends_with_a_reason_and_tells_the_vendor(acme: Company) -> None:
    # Suspending refuses the company's identity provider: the history must say why, and the
    # vendor's app, which gates its own product by it, hears of it as of SCIM switched off.
    with pytest.raises(CommandError, match="needs a reason"):
        run("company_status", "--slug", "acme", "--suspend")
    assert Company.objects.get(pk=acme.pk).status == "active"

    said = run("company_status", "--slug", "acme", "--suspend", "--reason", "Unpaid invoice")
    again = run("company_status", "--slug", "acme", "--suspend", "--reason", "Unpaid invoice")
    back = run("company_status", "--slug", "acme", "--activate")

    assert said.startswith("acme suspended: its identity provider is refused (403)")
    assert again.strip() == "acme was already suspended."
    assert back.strip() == "acme is active again."
    history = CompanyEvent.objects.filter(
        company=acme, action=CompanyEvent.Action.STATUS_CHANGED
    ).order_by("id")
    assert [(e.actor, e.detail.get("reason")) for e in history] == [
        ("command:company_status", "Unpaid invoice"),
        ("command:company_status", None),
    ]
    events = company_events_after(acme.schema_name, 0, 100)
    assert [(e.type, e.data) for e in events] == [
        (
            "company.suspended",
            {"company": "acme", "status": "suspended", "actor": "command:company_status"},
        ),
        (
            "company.reactivated",
            {"company": "acme", "status": "active", "actor": "command:company_status"},
        ),
    ]


def test_company_create_records_its_first_owner_as_a_login_added(db: None) -> None:
    run(
        "company_create",
        "--slug",
        "wayne",
        "--name",
        "Wayne Enterprises",
        "--admin-email",
        "Bruce@Wayne.test",
        "--admin-password",
        "Gotham-Knight-42",
    )

    added = CompanyEvent.objects.get(company__slug="wayne", action=CompanyEvent.Action.LOGIN_ADDED)
    assert (added.actor, added.detail) == (
        "command:company_create",
        {"email": "bruce@wayne.test", "role": "owner"},
    )


def test_webhook_add_records_the_command_as_operations_md_says(
    acme: Company, settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = settings.WEBHOOK_ALLOW_HTTP = True

    run("webhook_add", "--url", "http://127.0.0.1:9/x")

    assert WebhookEndpoint.objects.get(url="http://127.0.0.1:9/x").created_by == (
        "command:webhook_add"
    )
