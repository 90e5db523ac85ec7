"""Issuing, revoking and regenerating credentials, and what is stored."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from tenants.models import Company
from tokens.models import Credential, CredentialEvent
from tokens.secrets import hash_secret
from tokens.services import (
    CredentialsLocked,
    basic_issue,
    basic_regenerate,
    credential_record_use,
    credential_revoke,
    token_issue,
)


def every_stored_text() -> str:
    """All credential-related rows of the current schema, and all sessions, as text."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(string_agg(t::text, ' '), '') FROM tokens_credential t "
            "UNION ALL SELECT coalesce(string_agg(e::text, ' '), '') FROM tokens_credentialevent e "
            "UNION ALL SELECT coalesce(string_agg(s::text, ' '), '') FROM django_session s"
        )
        return " ".join(row[0] for row in cursor.fetchall())


def test_token_is_stored_as_a_hash_only(acme: Company) -> None:
    issued = token_issue(
        company=acme, name="Okta production", note="set up by Ada", actor="ada@acme.test"
    )

    stored = Credential.objects.get(pk=issued.credential.pk)
    assert stored.secret_hash != issued.secret and len(stored.secret_hash) == 64
    assert stored.display_prefix == issued.secret[:12]
    assert issued.secret not in every_stored_text()
    assert issued.secret[12:] not in every_stored_text()
    assert (stored.name, stored.note, stored.created_by) == (
        "Okta production",
        "set up by Ada",
        "ada@acme.test",
    )
    assert CredentialEvent.objects.get(credential=stored).action == "created"


def test_basic_secret_is_stored_as_a_hash_only(acme: Company) -> None:
    issued = basic_issue(company=acme, actor="ada@acme.test")

    assert issued.credential.username.startswith("scim-")
    assert issued.secret not in every_stored_text()


def test_names_are_unique_among_tokens_not_revoked(acme: Company) -> None:
    first = token_issue(company=acme, name="Okta", actor="a")

    with pytest.raises(ValidationError, match="exists already"):
        token_issue(company=acme, name="okta", actor="a")
    credential_revoke(credential_id=str(first.credential.pk), actor="a")
    again = token_issue(company=acme, name="Okta", actor="a")

    assert again.credential.pk != first.credential.pk


def test_empty_name_and_past_expiry_are_refused(acme: Company) -> None:
    with pytest.raises(ValidationError, match="name"):
        token_issue(company=acme, name="   ", actor="a")
    with pytest.raises(ValidationError, match="future"):
        token_issue(
            company=acme, name="x", actor="a", expires_at=timezone.now() - dt.timedelta(days=1)
        )
    assert not Credential.objects.exists()


def test_nothing_is_issued_while_scim_is_off(acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(scim_enabled=False)

    with pytest.raises(CredentialsLocked, match=r"not active for Acme Inc\. Contact support"):
        token_issue(company=acme, name="Okta", actor="a")
    with pytest.raises(CredentialsLocked):
        basic_issue(company=acme, actor="a")
    assert not Credential.objects.exists()


def test_a_suspended_company_cannot_issue_tokens_or_basic_credentials(acme: Company) -> None:
    pair = basic_issue(company=acme, actor="a")
    # Suspended by support after the request loaded the company: the services read it fresh.
    Company.objects.filter(pk=acme.pk).update(status=Company.Status.SUSPENDED)
    suspended = r"^Acme Inc is suspended\. Contact support to restore access\.$"

    with pytest.raises(CredentialsLocked, match=suspended):
        token_issue(company=acme, name="Okta", actor="a")
    with pytest.raises(CredentialsLocked, match=suspended):
        basic_regenerate(company=acme, credential_id=str(pair.credential.pk), actor="a")
    credential_revoke(credential_id=str(pair.credential.pk), actor="a")
    with pytest.raises(CredentialsLocked, match=suspended):
        basic_issue(company=acme, actor="a")

    assert Credential.objects.get().secret_hash == hash_secret(pair.secret)
    assert Credential.objects.filter(revoked_at__isnull=True).count() == 0


def test_one_basic_pair_at_a_time_and_regenerate_keeps_the_username(acme: Company) -> None:
    issued = basic_issue(company=acme, actor="a")
    with pytest.raises(ValidationError, match="exist already"):
        basic_issue(company=acme, actor="a")

    renewed = basic_regenerate(company=acme, credential_id=str(issued.credential.pk), actor="b")

    assert renewed.credential.username == issued.credential.username
    assert renewed.secret != issued.secret
    stored = Credential.objects.get(pk=issued.credential.pk)
    assert stored.secret_hash == hash_secret(renewed.secret) != hash_secret(issued.secret)
    assert list(
        CredentialEvent.objects.filter(credential=stored).values_list("action", flat=True)
    ) == [
        "regenerated",
        "created",
    ]


def test_revoke_is_recorded_once(acme: Company) -> None:
    issued = token_issue(company=acme, name="Okta", actor="a")

    credential_revoke(credential_id=str(issued.credential.pk), actor="ada@acme.test", ip="10.0.0.1")
    credential_revoke(credential_id=str(issued.credential.pk), actor="someone-else")

    stored = Credential.objects.get(pk=issued.credential.pk)
    assert stored.status == Credential.Status.REVOKED
    assert stored.revoked_by == "ada@acme.test"
    revokes = CredentialEvent.objects.filter(credential=stored, action="revoked")
    assert [(e.actor, e.ip) for e in revokes] == [("ada@acme.test", "10.0.0.1")]


def test_last_use_is_written_at_most_once_a_minute(acme: Company) -> None:
    issued = token_issue(company=acme, name="Okta", actor="a")
    credential = Credential.objects.get(pk=issued.credential.pk)

    credential_record_use(credential=credential, ip="192.0.2.1")
    first = Credential.objects.get(pk=credential.pk)
    credential_record_use(credential=first, ip="192.0.2.2")
    second = Credential.objects.get(pk=credential.pk)
    Credential.objects.filter(pk=credential.pk).update(
        last_used_at=timezone.now() - dt.timedelta(minutes=2)
    )
    credential_record_use(credential=Credential.objects.get(pk=credential.pk), ip="192.0.2.3")
    third = Credential.objects.get(pk=credential.pk)

    assert first.last_used_ip == "192.0.2.1" and first.last_used_at is not None
    assert second.last_used_at == first.last_used_at and second.last_used_ip == "192.0.2.1"
    assert third.last_used_ip == "192.0.2.3"
    assert CredentialEvent.objects.filter(credential=credential, action="first_used").count() == 1


def test_status_reflects_expiry(acme: Company) -> None:
    issued = token_issue(
        company=acme, name="Short", actor="a", expires_at=timezone.now() + dt.timedelta(days=1)
    )
    Credential.objects.filter(pk=issued.credential.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    stored = Credential.objects.get(pk=issued.credential.pk)
    assert stored.status == Credential.Status.EXPIRED
    assert not Credential.objects.usable().filter(pk=stored.pk).exists()
