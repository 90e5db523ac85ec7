"""A company's history in the admin reads as sentences, not as the stored JSON."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from support_admin.history import describe
from tenants.models import Company, CompanyEvent

Action = CompanyEvent.Action


@pytest.mark.parametrize(
    ("action", "detail", "sentence"),
    [
        (
            Action.STATUS_CHANGED,
            {"to": "suspended", "from": "active", "reason": "Unpaid invoice"},
            "Status: active → suspended. Reason: Unpaid invoice.",
        ),
        (Action.SEAT_LIMIT_CHANGED, {"to": None, "from": 3}, "Seat limit: 3 → unlimited."),
        (
            Action.SEAT_LIMIT_CHANGED,
            {
                "from": 100,
                "to": 500,
                "waitlist_now": 100,
                "waitlist_later": 175,
                "waitlist_waiting": 2433,
            },
            "Seat limit: 100 → 500. Waitlist: 100 provisioned at once, 175 left to the "
            "background task, 2433 still waiting.",
        ),
        (Action.SCIM_DISABLED, {"reason": "Contract ended"}, "Reason: Contract ended."),
        (Action.SCIM_ENABLED, {}, ""),
        (Action.RENAMED, {"from": "Acme", "to": "Acme Inc"}, "Name: Acme → Acme Inc."),
        (
            Action.CREATED,
            {"name": "Acme Inc", "seat_limit": None, "scim_enabled": True},
            "Name: Acme Inc; seat limit: unlimited; SCIM provisioning on.",
        ),
        (
            Action.POLICY_CHANGED,
            {"policy": "scim_strict", "from": False, "to": True},
            "Strict attribute values: off → on.",
        ),
        (
            Action.POLICY_CHANGED,
            {"policy": "scim_rate_limit", "from": None, "to": 600},
            "SCIM requests per minute: the default → 600 per minute.",
        ),
        (
            Action.LOGIN_ROLE_CHANGED,
            {"email": "vic@acme.test", "old": "viewer", "new": "admin"},
            "vic@acme.test: Viewer (read-only) → Admin.",
        ),
        (
            Action.LOGIN_ADDED,
            {"email": "bruce@wayne.test", "role": "owner"},
            "bruce@wayne.test as Owner.",
        ),
        (
            Action.BRAKE_TRIPPED,
            {"deprovisioned": 10, "allowance": 10, "window_minutes": 60},
            "10 deprovisioned within 60 minutes, the most the brake allowed (10); the next was "
            "held.",
        ),
        (
            Action.BRAKE_RELEASED,
            {"held": 3, "held_since": "2026-12-07T16:56:00.113654+00:00"},
            "3 held request(s), held since 2026-12-07 16:56 UTC.",
        ),
        # Nothing recorded is hidden, whatever a later change adds.
        (Action.RENAMED, {"from": "A", "to": "B", "ticket": 42}, "Name: A → B. ticket: 42."),
        (Action.RENAMED, {"from": "2026-13-45T99:00", "to": "B"}, "Name: 2026-13-45T99:00 → B."),
    ],
)
def test_each_entry_is_a_sentence(action: str, detail: dict[str, object], sentence: str) -> None:
    assert describe(action, detail) == sentence


def test_times_are_in_the_admins_time_zone() -> None:
    with timezone.override("Europe/Paris"):
        text = describe(Action.BRAKE_CONFIRMED, {"held": 1, "held_since": "2026-12-07T16:56:00Z"})

    assert text == "1 held request(s), held since 2026-12-07 17:56 CET."


def test_the_company_page_shows_the_sentences(acme: Company, support_superuser: User) -> None:
    CompanyEvent.objects.create(
        company=acme,
        action=Action.STATUS_CHANGED,
        actor="lead@vendor.test",
        detail={"to": "suspended", "from": "active", "reason": "Unpaid invoice"},
    )
    connection.set_schema_to_public()
    support = Client()
    support.force_login(support_superuser)

    page = support.get(f"/admin/tenants/company/{acme.pk}/change/").content.decode()

    assert "Status: active → suspended. Reason: Unpaid invoice." in page
    assert "&quot;from&quot;" not in page and '"from"' not in page
