"""Per-company URLs: /t/<slug>/ runs in that company's schema, and nowhere else."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from tenants.middleware import company_for_route
from tenants.models import Company
from tests.conftest import TEST_PASSWORD, make_portal_user


def test_company_portal_answers_under_its_slug(acme: Company, client: Client) -> None:
    response = client.get("/t/acme/login/")

    assert response.status_code == 200
    assert b"Sign in to Acme Inc" in response.content


@pytest.mark.parametrize(
    "path", ["/t/nobody/", "/t/nobody/login/", "/t/public/", "/t/tenant-base/login/"]
)
def test_unknown_or_system_slug_is_404_not_another_schema(
    db: None, client: Client, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 404


def test_unknown_slug_on_the_scim_api_is_a_scim_404(db: None, client: Client) -> None:
    response = client.get("/t/nobody/scim/v2/Users")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "404"


def test_data_written_in_one_company_is_invisible_in_another(
    acme: Company, outsider: Company
) -> None:
    with schema_context(acme.schema_name):
        User.objects.create_user(email="only-at-acme@acme.test", password=TEST_PASSWORD)

    with schema_context(outsider.schema_name):
        assert not User.objects.filter(email="only-at-acme@acme.test").exists()
    with schema_context(acme.schema_name):
        assert User.objects.filter(email="only-at-acme@acme.test").exists()


def test_company_admin_signs_in_at_their_company_only(acme: Company, outsider: Company) -> None:
    make_portal_user(acme, email="ada@acme.test")
    browser = Client()

    refused = browser.post(
        "/t/outsider/login/", {"username": "ada@acme.test", "password": TEST_PASSWORD}
    )
    signed_in = browser.post(
        "/t/acme/login/", {"username": "ada@acme.test", "password": TEST_PASSWORD}
    )

    assert refused.status_code == 200 and b"didn't match" in refused.content
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/t/acme/"
    dashboard = browser.get("/t/acme/")
    assert dashboard.status_code == 200
    assert b"/t/acme/scim/v2" in dashboard.content


def test_session_cookie_is_scoped_to_the_company(acme: Company, outsider: Company) -> None:
    make_portal_user(acme, email="ada@acme.test")
    browser = Client()

    browser.post("/t/acme/login/", {"username": "ada@acme.test", "password": TEST_PASSWORD})

    cookie = browser.cookies["hc_session_acme"]
    assert cookie["path"] == "/t/acme/"
    assert cookie["httponly"]
    assert "hc_session" not in browser.cookies
    # A browser would not send the cookie to /t/outsider/; even if it did, it is not a
    # session there: that company's session table never saw it.
    leaked = Client()
    leaked.cookies["hc_session_outsider"] = cookie.value
    response = leaked.get("/t/outsider/")
    assert response.status_code == 302
    assert response["Location"].startswith("/t/outsider/login/")


def test_anonymous_visitor_is_sent_to_the_company_sign_in(acme: Company, client: Client) -> None:
    response = client.get("/t/acme/")

    assert response.status_code == 302
    assert response["Location"] == "/t/acme/login/?next=/t/acme/"
    connection.set_schema_to_public()


def test_a_bad_host_header_is_a_clean_400(db: None) -> None:
    scim = Client(HTTP_HOST="evil.example").get("/t/acme/scim/v2/Users")
    page = Client(HTTP_HOST="evil.example").get("/t/acme/login/")

    assert scim.status_code == 400 and scim.json()["status"] == "400"
    assert scim["Content-Type"].startswith("application/scim+json")
    assert page.status_code == 400 and b"Traceback" not in page.content


def test_each_company_keeps_its_own_urls(acme: Company, outsider: Company) -> None:
    first = Client().get("/t/acme/login/")
    second = Client().get("/t/outsider/login/")
    again = Client().get("/t/acme/login/")

    assert b'action=""' in first.content or b"Sign in to Acme Inc" in first.content
    assert b"Sign in to Outsider Ltd" in second.content
    assert b"/t/outsider/" not in again.content and b"/t/acme/password-reset/" in again.content


def test_the_route_lookup_reads_the_company_as_the_orm_does(acme: Company) -> None:
    # Values a plain cursor would return differently (JSON as text) must come back converted.
    Company.objects.filter(pk=acme.pk).update(
        attribute_allowlist=["name", "emails"], scim_changed_at=timezone.now()
    )
    expected = Company.objects.get(pk=acme.pk)
    fields = [field.attname for field in Company._meta.concrete_fields]

    with CaptureQueriesContext(connection) as queries:
        routed = company_for_route("acme")

    assert routed is not None
    assert [getattr(routed, name) for name in fields] == [
        getattr(expected, name) for name in fields
    ]
    assert routed.attribute_allowlist == ["name", "emails"]
    assert (routed._state.adding, routed._state.db) == (False, "default")
    assert [q["sql"] for q in queries.captured_queries if "search_path" not in q["sql"]] == [
        queries.captured_queries[-1]["sql"]
    ]
    assert company_for_route("nobody") is None
    assert company_for_route("tenant-base") is None  # no route: not served
