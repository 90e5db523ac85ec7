"""Add company when the service refuses what the form let through: the form again, with why,
never a 500."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from tenants.models import Company
from tenants.services import company_create
from tests.live import on_own_connection, until_a_session_waits_for_a_lock
from tests.support_admin.test_admin import staff_member


@pytest.fixture
def lead(db: None) -> Client:
    client = Client()
    client.force_login(staff_member("lead@vendor.test", may_switch_scim=True))
    return client


def add(client: Client, slug: str) -> Any:
    return client.post(
        "/admin/tenants/company/add/",
        {"slug": slug, "name": "Gamma", "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"},
    )


def test_a_deleted_companys_schema_left_behind_is_a_form_error_saying_how_to_drop_it(
    lead: Client,
) -> None:
    company_create(slug="gamma", name="Gamma", actor="tests")
    Company.objects.get(slug="gamma").delete()  # a plain delete keeps the schema

    response = add(lead, "gamma")

    page = response.content.decode()
    assert response.status_code == 200
    assert "The schema of a deleted company" in page
    assert "DROP SCHEMA &quot;co_gamma&quot; CASCADE;" in page
    assert not Company.objects.filter(slug="gamma").exists()


@pytest.fixture
def committed_slug(django_db_blocker: Any) -> Iterator[str]:
    slug = "race-add"
    yield slug

    def drop() -> None:
        connection.set_schema_to_public()
        for company in Company.objects.filter(slug=slug):
            company.delete(force_drop=True)

    on_own_connection(django_db_blocker, drop)


def test_the_same_slug_created_meanwhile_is_a_form_error(
    lead: Client, django_db_blocker: Any, committed_slug: str
) -> None:
    created, release = threading.Event(), threading.Event()

    def other_person() -> None:
        # Creates the slug and commits only once this test's post waits for it.
        with django_db_blocker.unblock():
            try:
                connection.set_schema_to_public()
                with transaction.atomic():
                    company_create(slug=committed_slug, name="First", actor="someone else")
                    created.set()
                    assert release.wait(30)
            finally:
                connection.close()

    def let_go() -> None:
        until_a_session_waits_for_a_lock(django_db_blocker)
        release.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(other_person)
        assert created.wait(30)
        releaser = pool.submit(let_go)
        response = add(lead, committed_slug)
        first.result(), releaser.result()

    assert response.status_code == 200
    assert f"A company with the slug &quot;{committed_slug}&quot; already exists." in (
        response.content.decode()
    )
    assert Company.objects.get(slug=committed_slug).name == "First"
