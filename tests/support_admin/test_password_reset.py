"""Support staff who forgot their password choose a new one by email, from the admin's sign-in
page, as company admins do from the portal's; the mail goes to active staff only."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from tests.conftest import TEST_PASSWORD
from tests.support_admin.test_admin import staff_member

NEW_PASSWORD = "Brand-New-Passphrase-42"


def test_the_admin_sign_in_page_offers_a_password_reset(db: None) -> None:
    page = Client().get("/admin/login/").content.decode()

    assert 'href="/admin/password_reset/"' in page


def test_support_staff_choose_a_new_password_by_email_and_sign_in(
    db: None, settings: object
) -> None:
    settings.PUBLIC_BASE_URL = "https://headcount.example.com"  # type: ignore[attr-defined]
    staff_member("lead@vendor.test", may_switch_scim=False)
    browser = Client()

    asked = browser.post("/admin/password_reset/", {"email": "Lead@Vendor.test"}, follow=True)
    (message,) = mail.outbox
    link = re.search(r"https://headcount\.example\.com(/admin/reset/\S+/\S+/)", message.body)
    assert link is not None, message.body
    form = browser.get(link.group(1), follow=True)
    chosen = browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    signed_in = Client().post(
        "/admin/login/",
        {"username": "lead@vendor.test", "password": NEW_PASSWORD, "next": "/admin/"},
    )
    again = Client().get(link.group(1), follow=True).content.decode()

    assert "Headcount support" in asked.content.decode()
    assert (
        message.to == ["lead@vendor.test"]
        and message.subject == "Reset your Headcount support password"
    )
    assert 'name="new_password1"' in form.content.decode()
    assert 'href="/admin/login/"' in chosen.content.decode()
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"
    assert 'name="new_password1"' not in again  # the link worked once


@pytest.mark.parametrize(
    "who", ["nobody@vendor.test", "former@vendor.test", "customer@vendor.test"]
)
def test_no_mail_for_an_unknown_address_a_former_or_a_non_staff_account(db: None, who: str) -> None:
    with schema_context("public"):
        User.objects.create_user(
            email="former@vendor.test", password=TEST_PASSWORD, is_staff=True, is_active=False
        )
        User.objects.create_user(email="customer@vendor.test", password=TEST_PASSWORD)

    answer = Client().post("/admin/password_reset/", {"email": who})

    # The same answer whoever asked: the form does not tell who has an account.
    assert answer.status_code == 302 and answer["Location"] == "/admin/password_reset/done/"
    assert mail.outbox == []
