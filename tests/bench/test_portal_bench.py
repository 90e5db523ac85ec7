"""The portal benchmark measures pages that work: `bench_seed --profiles` gives members a
title, a department and a ledger, and every portal workload's request answers 200 to a
signed-in company admin (a workload that errored would measure an error page)."""

from __future__ import annotations

import random
from io import StringIO

from django.core.management import call_command
from django.test import Client
from django_tenants.utils import schema_context

from bench.management.commands import bench_seed
from bench.portal import PORTAL_WORKLOADS, portal_workloads
from directory.models import Member, ProvisioningEvent
from directory.portal_selectors import members_for_portal
from tenants.models import Company
from tests.conftest import TEST_PASSWORD, make_portal_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_profiles_seed_titles_departments_and_a_ledger(db: None) -> None:
    call_command(
        bench_seed.Command(),
        "--company",
        "seeded",
        "--users",
        "100",
        "--profiles",
        stdout=StringIO(),
    )

    company = Company.objects.get(slug="seeded")
    with schema_context(company.schema_name):
        user7 = Member.objects.get(user_name="user7@example.com")
        assert user7.attributes["title"] == "Engineer 7"
        assert user7.attributes[ENTERPRISE] == {"department": "Department 7"}
        assert ProvisioningEvent.objects.count() == 100
        assert ProvisioningEvent.objects.filter(outcome="failed").count() == 2
        found = members_for_portal("department 7", "all").rows
        assert {row.user_name for row in found} == {"user7@example.com", "user57@example.com"}


def test_every_portal_workload_requests_a_page_that_answers(db: None) -> None:
    call_command(
        bench_seed.Command(),
        "--company",
        "seeded",
        "--users",
        "60",
        "--profiles",
        stdout=StringIO(),
    )
    company = Company.objects.get(slug="seeded")
    make_portal_user(company, email="owner@seeded.test")
    browser = Client()
    browser.post("/t/seeded/login/", {"username": "owner@seeded.test", "password": TEST_PASSWORD})
    plans = portal_workloads(60)
    rng = random.Random(7)  # noqa: S311 - load shapes, not secrets

    answers = {}
    for name in PORTAL_WORKLOADS:
        method, path, _ = plans[name](rng)
        answers[name] = browser.generic(method, f"/t/seeded/{path}").status_code

    assert answers == dict.fromkeys(PORTAL_WORKLOADS, 200)
