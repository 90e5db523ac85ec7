"""The brake's e-mail states its rule as the brake applies it: the window's allowance is used
up, and the next deprovision is held (not "more than the allowance")."""

from __future__ import annotations

from typing import Any

from django.core import mail

from tenants.models import Company
from tests.directory.test_brake import DEACTIVATE
from tests.directory.test_brake import thirty as thirty  # the fixture
from tests.scim_client import Scim


def test_the_mail_says_the_allowance_was_used_up_and_more_was_asked(
    scim: Scim,
    acme: Company,
    thirty: list[str],
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.SUPPORT_EMAILS = ["support@vendor.test"]
    for user_id in thirty[:10]:
        assert scim.patch(f"/Users/{user_id}", DEACTIVATE).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        assert scim.patch(f"/Users/{thirty[10]}", DEACTIVATE).status_code == 503

    (sent,) = mail.outbox
    assert (
        "deactivated or deleted 10 active users of Acme Inc within 60 minutes, the most the "
        "brake allows (10), and then asked for more."
    ) in " ".join(sent.body.split())
