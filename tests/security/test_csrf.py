"""Every portal form that changes something refuses a POST without the CSRF token (a page of
another site submitting to the portal in the admin's browser), and changes nothing; the same
POST with the token from the page works, so the refusal is the token's doing."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from django_tenants.utils import schema_context

from directory.models import LedgerExport, ProvisioningEvent
from tenants.models import Company
from tests.conftest import TEST_PASSWORD, make_portal_user
from tests.scim_client import Scim
from tokens.models import Credential
from tokens.services import token_issue, token_rotate

TOKEN_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def strict_browser(company: Company) -> Client:
    """Signed in as an owner, with Django's CSRF checks on (the test client skips them)."""
    make_portal_user(company, email="ada@acme.test")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(f"/t/{company.slug}/login/").content.decode()
    signed = browser.post(
        f"/t/{company.slug}/login/",
        {
            "username": "ada@acme.test",
            "password": TEST_PASSWORD,
            "csrfmiddlewaretoken": TOKEN_FIELD.search(page).group(1),  # type: ignore[union-attr]
        },
    )
    assert signed.status_code == 302
    return browser


def state(company: Company) -> tuple[int, int, int, int]:
    with schema_context(company.schema_name):
        return (
            Credential.objects.count(),
            Credential.objects.filter(revoked_at__isnull=False).count(),
            LedgerExport.objects.count(),
            ProvisioningEvent.objects.count(),
        )


def test_portal_forms_refuse_posts_without_the_csrf_token(scim: Scim, acme: Company) -> None:
    browser = strict_browser(acme)
    assert scim.post("/Users", {"userName": ""}).status_code == 400
    with schema_context(acme.schema_name):
        existing = token_issue(company=acme, name="Other", actor="tests").credential
        rotating = token_issue(company=acme, name="Rotating", actor="tests").credential
        token_rotate(company=acme, credential_id=str(rotating.pk), actor="tests")
        failure = ProvisioningEvent.objects.get(outcome="failed")
    forms: list[tuple[str, dict[str, Any]]] = [
        ("/t/acme/access/tokens/", {"name": "Forged"}),
        ("/t/acme/access/basic/", {"note": "Forged"}),
        (f"/t/acme/access/credentials/{existing.pk}/revoke/", {}),
        (f"/t/acme/access/tokens/{existing.pk}/rotate/", {}),
        (f"/t/acme/access/tokens/{rotating.pk}/rotation/confirm/", {}),
        ("/t/acme/log/exports/", {}),
        (f"/t/acme/log/{failure.pk}/retry/", {}),
        ("/t/acme/log/retry/", {"status": "400", "scim_type": failure.scim_type}),
    ]
    before = state(acme)

    refused = [browser.post(path, data).status_code for path, data in forms]
    after_refusals = state(acme)
    token = TOKEN_FIELD.search(browser.get("/t/acme/access/").content.decode())
    assert token is not None
    accepted = browser.post(
        "/t/acme/access/tokens/", {"name": "Real", "csrfmiddlewaretoken": token.group(1)}
    )

    assert refused == [403] * len(forms)
    assert after_refusals == before
    assert accepted.status_code == 200 and state(acme)[0] == before[0] + 1


def test_the_login_form_refuses_a_post_without_the_csrf_token(acme: Company) -> None:
    make_portal_user(acme, email="ada@acme.test")

    response = Client(enforce_csrf_checks=True).post(
        "/t/acme/login/", {"username": "ada@acme.test", "password": TEST_PASSWORD}
    )

    assert response.status_code == 403
