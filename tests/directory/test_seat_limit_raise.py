"""A seat-limit raise larger than one drain batch: the command and the admin say how many
were provisioned at once, how many the background task provisions, and how many still wait."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from tenants.models import Company, CompanyEvent
from tests.directory.test_waitlist import _fill, _user, _waiting
from tests.scim_client import Scim
from tests.support_admin.test_admin import change_form, staff_member


@pytest.fixture
def seven_waiting(scim: Scim, acme: Company, settings: Any) -> None:
    settings.WAITLIST_DRAIN_BATCH = 2
    _fill(scim, acme, 1)
    for n in range(7):
        assert _user(scim, f"waiting{n}@acme.test").status_code == 403


def test_company_seats_says_what_is_provisioned_now_later_and_not(
    seven_waiting: None, acme: Company
) -> None:
    out = StringIO()

    call_command("company_seats", "--slug", "acme", "--limit", "6", stdout=out)

    # 5 seats freed: 2 in the command's transaction, 3 by the task queued after its commit.
    assert out.getvalue().strip() == (
        "Seat limit of acme: 1 -> 6. 2 provisioned from the waitlist now; 3 more are being "
        "provisioned in the background (needs a running worker); 2 still waiting."
    )
    assert len(_waiting()) == 5
    event = CompanyEvent.objects.filter(company=acme, action="seat_limit_changed").first()
    assert event is not None and event.detail == {
        "from": 1,
        "to": 6,
        "waitlist_now": 2,
        "waitlist_later": 3,
        "waitlist_waiting": 2,
    }


def test_company_seats_unlimited_leaves_everyone_else_to_the_task(
    seven_waiting: None, acme: Company
) -> None:
    out = StringIO()

    call_command("company_seats", "--slug", "acme", "--unlimited", stdout=out)

    assert (
        out.getvalue()
        .strip()
        .endswith(
            "2 provisioned from the waitlist now; 5 more are being provisioned in the background "
            "(needs a running worker); nobody still waiting."
        )
    )


def test_the_admin_says_what_the_raise_did_for_the_waitlist(
    seven_waiting: None, acme: Company
) -> None:
    connection.set_schema_to_public()  # support staff are public's users
    lead = Client()
    lead.force_login(staff_member("lead@vendor.test", may_switch_scim=True))
    company = Company.objects.get(pk=acme.pk)

    response = lead.post(
        f"/admin/tenants/company/{acme.pk}/change/", change_form(company, seat_limit=6), follow=True
    )

    assert (
        "Seat waitlist: 2 provisioned from the waitlist now; 3 more are being provisioned in "
        "the background (needs a running worker); 2 still waiting."
    ) in response.content.decode()
