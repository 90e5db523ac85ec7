"""Two-phase rotation of API tokens, read-only tokens from the command line, and expiry
reminders, as the services and the SCIM API see them."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from tenants.models import Company
from tests.conftest import make_portal_user
from tokens.models import Credential, CredentialEvent
from tokens.services import (
    RotationRefused,
    credential_revoke,
    token_expiry_reminders,
    token_issue,
    token_rotate,
    token_rotation_confirm,
    tokens_retire_due,
)

SPC = "/t/acme/scim/v2/ServiceProviderConfig"
USERS = "/t/acme/scim/v2/Users"


def calls(client: Client, secret: str, path: str = SPC) -> int:
    return int(client.get(path, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code)


def actions(credential: Credential) -> list[str]:
    return list(
        CredentialEvent.objects.filter(credential=credential)
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )


# --- rotation -------------------------------------------------------------------------------


def test_rotation_issues_a_successor_and_both_work_until_confirmed(
    acme: Company, client: Client
) -> None:
    old = token_issue(
        company=acme,
        name="Okta",
        note="US org",
        actor="ada@acme.test",
        scope=Credential.Scope.READ_ONLY,
        expires_at=timezone.now() + dt.timedelta(days=90),
    )

    new = token_rotate(company=acme, credential_id=str(old.credential.pk), actor="ada@acme.test")

    assert new.secret != old.secret and new.secret.startswith("hct_")
    successor = Credential.objects.get(pk=new.credential.pk)
    assert (successor.name, successor.note, successor.scope) == ("Okta", "US org", "read")
    assert successor.expires_at is not None
    assert successor.expires_at > timezone.now() + dt.timedelta(days=89)
    retiring = Credential.objects.get(pk=old.credential.pk)
    assert retiring.is_retiring and retiring.successor_id == successor.pk
    assert retiring.retires_at is not None
    assert retiring.retires_at > timezone.now() + dt.timedelta(days=6, hours=23)
    assert calls(client, old.secret) == 200 and calls(client, new.secret) == 200

    token_rotation_confirm(credential_id=str(old.credential.pk), actor="ada@acme.test")

    assert calls(client, old.secret) == 401 and calls(client, new.secret) == 200
    assert actions(retiring) == ["created", "rotated", "first_used", "rotate_confirmed"]
    assert actions(successor) == ["created", "first_used"]
    assert Credential.objects.get(pk=old.credential.pk).revoked_by == "ada@acme.test"


def test_a_token_being_rotated_cannot_be_rotated_again(acme: Company) -> None:
    old = token_issue(company=acme, name="Okta", actor="tests")
    token_rotate(company=acme, credential_id=str(old.credential.pk), actor="tests")

    with pytest.raises(RotationRefused, match="being replaced already"):
        token_rotate(company=acme, credential_id=str(old.credential.pk), actor="tests")

    assert Credential.objects.filter(name="Okta").count() == 2


def test_revoked_or_expired_tokens_cannot_be_rotated(acme: Company) -> None:
    revoked = token_issue(company=acme, name="Gone", actor="tests")
    credential_revoke(credential_id=str(revoked.credential.pk), actor="tests")
    expired = token_issue(company=acme, name="Old", actor="tests")
    Credential.objects.filter(pk=expired.credential.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    for credential_id in (revoked.credential.pk, expired.credential.pk):
        with pytest.raises(Credential.DoesNotExist):
            token_rotate(company=acme, credential_id=str(credential_id), actor="tests")

    assert Credential.objects.count() == 2


def test_the_name_stays_unique_among_active_tokens_during_rotation(acme: Company) -> None:
    old = token_issue(company=acme, name="Okta", actor="tests")
    token_rotate(company=acme, credential_id=str(old.credential.pk), actor="tests")

    with pytest.raises(Exception, match="exists already"):
        token_issue(company=acme, name="okta", actor="tests")


def test_after_the_grace_period_the_old_token_is_refused_and_revoked_on_use(
    acme: Company, client: Client
) -> None:
    old = token_issue(company=acme, name="Okta", actor="tests")
    new = token_rotate(company=acme, credential_id=str(old.credential.pk), actor="tests")
    Credential.objects.filter(pk=old.credential.pk).update(
        retires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    refused = client.get(SPC, HTTP_AUTHORIZATION=f"Bearer {old.secret}")

    assert refused.status_code == 401
    assert "replaced by rotation" in refused.json()["detail"]
    assert calls(client, new.secret) == 200
    retired = Credential.objects.get(pk=old.credential.pk)
    assert retired.revoked_at is not None and retired.revoked_by == "rotation grace period"
    assert actions(retired)[-1] == "auto_revoked"


def test_the_periodic_sweep_revokes_tokens_past_their_grace_period_only(acme: Company) -> None:
    due = token_issue(company=acme, name="Due", actor="tests")
    not_yet = token_issue(company=acme, name="Not yet", actor="tests")
    token_rotate(company=acme, credential_id=str(due.credential.pk), actor="tests")
    token_rotate(company=acme, credential_id=str(not_yet.credential.pk), actor="tests")
    Credential.objects.filter(pk=due.credential.pk).update(
        retires_at=timezone.now() - dt.timedelta(minutes=5)
    )

    assert tokens_retire_due() == 1
    assert tokens_retire_due() == 0

    assert Credential.objects.get(pk=due.credential.pk).revoked_at is not None
    assert Credential.objects.get(pk=not_yet.credential.pk).revoked_at is None
    assert Credential.objects.filter(revoked_at__isnull=True).count() == 3


def test_confirming_a_token_that_is_not_being_rotated_is_refused(acme: Company) -> None:
    plain = token_issue(company=acme, name="Okta", actor="tests")

    with pytest.raises(Credential.DoesNotExist):
        token_rotation_confirm(credential_id=str(plain.credential.pk), actor="tests")

    assert Credential.objects.get(pk=plain.credential.pk).revoked_at is None


def test_revocation_during_rotation_is_immediate(acme: Company, client: Client) -> None:
    old = token_issue(company=acme, name="Okta", actor="tests")
    new = token_rotate(company=acme, credential_id=str(old.credential.pk), actor="tests")

    credential_revoke(credential_id=str(old.credential.pk), actor="tests")

    assert calls(client, old.secret) == 401 and calls(client, new.secret) == 200


# --- read-only tokens from the command line -------------------------------------------------


def test_token_issue_read_only_flag_issues_a_token_that_reads_but_cannot_write(
    acme: Company, client: Client
) -> None:
    connection.set_schema_to_public()
    out = StringIO()

    call_command("token_issue", "--company", "acme", "--name", "Audit", "--read-only", stdout=out)
    secret = out.getvalue().strip()
    write = client.post(
        USERS,
        data='{"userName": "x@acme.test"}',
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )

    assert secret.startswith("hct_") and "\n" not in secret
    assert calls(client, secret, USERS) == 200
    assert write.status_code == 403 and "read-only" in write.json()["detail"]
    with schema_context(acme.schema_name):
        assert Credential.objects.get(name="Audit").scope == "read"


def test_token_issue_read_only_refuses_basic(acme: Company) -> None:
    connection.set_schema_to_public()

    with pytest.raises(CommandError, match="--read-only applies to Bearer tokens"):
        call_command(
            "token_issue",
            "--company",
            "acme",
            "--name",
            "B",
            "--basic",
            "--read-only",
            stdout=StringIO(),
        )

    with schema_context(acme.schema_name):
        assert not Credential.objects.exists()


# --- expiry reminders -----------------------------------------------------------------------


def _expiring(company: Company, name: str, days: float) -> Credential:
    issued = token_issue(company=company, name=name, actor="tests")
    Credential.objects.filter(pk=issued.credential.pk).update(
        expires_at=timezone.now() + dt.timedelta(days=days)
    )
    return Credential.objects.get(pk=issued.credential.pk)


def test_reminders_go_14_and_3_days_before_expiry_once_each_to_owners_and_admins(
    acme: Company,
) -> None:
    make_portal_user(acme, email="owner@acme.test", role=User.Role.OWNER)
    make_portal_user(acme, email="admin@acme.test", role=User.Role.ADMIN)
    make_portal_user(acme, email="viewer@acme.test", role=User.Role.VIEWER)
    connection.set_tenant(acme)
    token = _expiring(acme, "Okta", days=13.5)
    _expiring(acme, "Later", days=20)
    mail.outbox.clear()

    first = token_expiry_reminders(acme)
    again = token_expiry_reminders(acme)
    Credential.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() + dt.timedelta(days=2, hours=20)
    )
    second = token_expiry_reminders(acme)
    last = token_expiry_reminders(acme)

    assert (first, again, second, last) == (1, 0, 1, 0)
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert "“Okta”" in message.subject and "Acme Inc" in message.subject
        assert sorted(message.to) == ["admin@acme.test", "owner@acme.test"]
        assert "/t/acme/access/" in message.body and "Rotate" in message.body
        assert "hct_" not in message.body.replace(token.display_prefix, "")
    assert Credential.objects.get(pk=token.pk).expiry_reminded_days == 3
    assert actions(token).count("expiry_reminder") == 2


def test_a_token_first_seen_inside_3_days_gets_only_the_3_day_reminder(acme: Company) -> None:
    make_portal_user(acme, email="owner@acme.test")
    connection.set_tenant(acme)
    _expiring(acme, "Soon", days=1)
    mail.outbox.clear()

    assert token_expiry_reminders(acme) == 1
    assert token_expiry_reminders(acme) == 0

    assert len(mail.outbox) == 1


def test_no_reminder_for_revoked_expired_rotated_out_or_never_expiring_tokens(
    acme: Company,
) -> None:
    make_portal_user(acme, email="owner@acme.test")
    connection.set_tenant(acme)
    revoked = _expiring(acme, "Revoked", days=2)
    credential_revoke(credential_id=str(revoked.pk), actor="tests")
    _expiring(acme, "Expired", days=-1)
    rotated = _expiring(acme, "Rotated", days=2)
    token_rotate(company=acme, credential_id=str(rotated.pk), actor="tests")
    token_issue(company=acme, name="Forever", actor="tests")
    mail.outbox.clear()

    sent = token_expiry_reminders(acme)

    # The successor of "Rotated" has the old one's lifetime (2 days) from now: it is due; the
    # token it replaces is not reminded about.
    assert sent == 1 and len(mail.outbox) == 1 and "“Rotated”" in mail.outbox[0].subject
    assert Credential.objects.get(pk=rotated.pk).expiry_reminded_days is None
    assert Credential.objects.get(successor__isnull=True, name="Rotated").expiry_reminded_days == 3
