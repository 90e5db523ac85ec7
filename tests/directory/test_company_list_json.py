"""`company_list --json` for automation: numbers and booleans, and the seat waitlist, next to
the table's texts it always had."""

from __future__ import annotations

import json
from io import StringIO

from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from directory.models import WaitlistEntry
from tenants.models import Company


def test_company_list_json_gives_numbers_booleans_and_the_waitlist(acme: Company) -> None:
    Company.objects.filter(slug="acme").update(seat_limit=5, seats_used=3)
    Company.objects.filter(slug="outsider").update(scim_enabled=False)
    with schema_context(acme.schema_name):
        for name in ("a@acme.test", "b@acme.test"):
            WaitlistEntry.objects.create(operation="create", user_name=name, request={})
    connection.set_schema_to_public()
    out = StringIO()

    call_command("company_list", "--json", stdout=out)

    rows = {row["slug"]: row for row in map(json.loads, out.getvalue().splitlines())}
    assert rows["acme"] == {
        "slug": "acme",
        "name": "Acme Inc",
        "scim": "on",
        "seats": "3 / 5",
        "status": "active",
        "scimEnabled": True,
        "seatsUsed": 3,
        "seatLimit": 5,
        "waiting": 2,
    }
    assert (rows["outsider"]["scimEnabled"], rows["outsider"]["seatLimit"]) == (False, None)
    assert rows["outsider"]["waiting"] == 0
