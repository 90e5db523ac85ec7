"""Support registers Okta's OAuth client from a preset: a name, Okta's app name and the
generated credentials, instead of every raw option of django-oauth-toolkit's form."""

from __future__ import annotations

import re

from django.contrib.auth.hashers import check_password
from django.test import Client
from oauth2_provider.models import get_application_model

from accounts.models import User

Application = get_application_model()
ADD = "/admin/oauth2_provider/application/add/"


def _secret_and_id(page: str) -> tuple[str, str]:
    secret = re.search(r'name="client_secret"[^>]*value="([^"]+)"', page)
    client_id = re.search(r'name="client_id"[^>]*value="([^"]+)"', page)
    assert secret is not None and client_id is not None, page
    return secret.group(1), client_id.group(1)


def test_the_okta_preset_registers_what_okta_needs(support_superuser: User) -> None:
    client = Client()
    client.force_login(support_superuser)
    form = client.get(ADD).content.decode()
    secret, client_id = _secret_and_id(form)

    response = client.post(
        ADD,
        {
            "name": "Okta",
            "okta_app_name": "headcount",
            "client_id": client_id,
            "client_secret": secret,
            "companies-TOTAL_FORMS": "0",
            "companies-INITIAL_FORMS": "0",
        },
    )

    assert 'name="okta_app_name"' in form and "Copy it now" in form
    assert 'name="authorization_grant_type"' not in form and 'name="algorithm"' not in form
    assert response.status_code == 302, response.content.decode()
    okta = Application.objects.get(client_id=client_id)
    assert okta.client_type == Application.CLIENT_CONFIDENTIAL
    assert okta.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE
    assert okta.redirect_uris.split() == [
        "https://system-admin.okta.com/admin/app/cpc/headcount/oauth/callback",
        "https://system-admin.okta-emea.com/admin/app/cpc/headcount/oauth/callback",
        "https://system-admin.oktapreview.com/admin/app/cpc/headcount/oauth/callback",
        "https://system-admin.trexcloud.com/admin/app/cpc/headcount/oauth/callback",
    ]
    assert okta.client_secret != secret and check_password(secret, okta.client_secret)
    assert okta.skip_authorization is False


def test_a_bad_okta_app_name_is_refused(support_superuser: User) -> None:
    client = Client()
    client.force_login(support_superuser)
    secret, client_id = _secret_and_id(client.get(ADD).content.decode())

    response = client.post(
        ADD,
        {
            "name": "Okta",
            "okta_app_name": "bad/name?x",
            "client_id": client_id,
            "client_secret": secret,
            "companies-TOTAL_FORMS": "0",
            "companies-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200 and "Enter a valid value" in response.content.decode()
    assert not Application.objects.filter(client_id=client_id).exists()


def test_every_option_stays_one_link_away(support_superuser: User) -> None:
    client = Client()
    client.force_login(support_superuser)

    page = client.get(ADD, {"preset": "custom"}).content.decode()

    assert 'name="authorization_grant_type"' in page and 'name="redirect_uris"' in page
    assert 'name="okta_app_name"' not in page
