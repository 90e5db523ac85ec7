"""scim2-tester (python-scim's conformance checker) against a live server: 0 failures.

It discovers the server from /ServiceProviderConfig, /ResourceTypes and /Schemas, then
creates, reads, searches, patches, replaces and deletes resources of every type.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from tests.live import company_update, live_scim_company

pytestmark = [pytest.mark.live, pytest.mark.django_db]


def test_scim2_tester_finds_no_failure(live_server_url: str, django_db_blocker: Any) -> None:
    with live_scim_company(django_db_blocker) as live:
        # It creates and deletes users by the dozen: no deprovisioning brake (directory.brake).
        company_update(django_db_blocker, live.company, deprovision_brake_percent=0)
        base = f"{live_server_url}/t/{live.company.slug}/scim/v2"
        with httpx2.Client(
            base_url=base, headers={"Authorization": f"Bearer {live.bearer}"}, timeout=30
        ) as http:
            results = check_server(SyncSCIMClient(http))

    failures = [
        f"{r.title} ({r.resource_type}): {r.reason}"
        for r in results
        if r.status not in (Status.SUCCESS, Status.SKIPPED)
    ]
    assert failures == []
    assert sum(r.status == Status.SUCCESS for r in results) >= 100
