"""Writes about credentials: issue, regenerate, revoke, record use. The plaintext secret is
returned once, from the function that made it, and never stored or logged."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants.models import Company
from tokens import secrets
from tokens.models import Credential, CredentialEvent

# `last_used_at` is refreshed at most this often, so using a credential is not a write per call.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

BASIC_DEFAULT_NAME = "Basic credentials"


class CredentialsLocked(Exception):
    """Credentials cannot be created: support has not switched SCIM provisioning on."""

    def __init__(self, company: Company):
        super().__init__(
            f"SCIM provisioning is not active for {company.name}. Contact support to activate it."
        )


@dataclass(frozen=True)
class IssuedCredential:
    credential: Credential
    secret: str  # shown to the person once, then gone

    @property
    def basic_pair(self) -> str:
        return f"{self.credential.username}:{self.secret}"


def _require_scim_enabled(company: Company) -> None:
    # Read fresh: the switch may have been flipped since the request loaded the company.
    if not Company.objects.filter(pk=company.pk, scim_enabled=True).exists():
        raise CredentialsLocked(company)


def token_issue(
    *,
    company: Company,
    name: str,
    actor: str,
    note: str = "",
    expires_at: dt.datetime | None = None,
    ip: str | None = None,
) -> IssuedCredential:
    """Issue a named Bearer token in the current company's schema.

    Raises CredentialsLocked while SCIM is off, ValidationError for an empty or taken name or
    an expiry in the past.
    """
    name = name.strip()
    if not name:
        raise ValidationError("Give the token a name.", code="required")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("The expiry must be in the future.", code="invalid")
    _require_scim_enabled(company)
    secret = secrets.generate_secret(secrets.BEARER_PREFIX)
    credential = Credential(
        kind=Credential.Kind.TOKEN,
        name=name,
        note=note.strip(),
        display_prefix=secrets.display_prefix(secret, secrets.BEARER_PREFIX),
        secret_hash=secrets.hash_secret(secret),
        created_by=actor,
        expires_at=expires_at,
    )
    try:
        with transaction.atomic():
            credential.save()
            CredentialEvent.objects.create(
                credential=credential, action=CredentialEvent.Action.CREATED, actor=actor, ip=ip
            )
    except IntegrityError:
        raise ValidationError(
            f'A token named "{name}" exists already. '
            "Choose another name, or revoke that one first.",
            code="unique",
        ) from None
    return IssuedCredential(credential=credential, secret=secret)


def basic_issue(
    *, company: Company, actor: str, note: str = "", ip: str | None = None
) -> IssuedCredential:
    """Issue the company's Basic credentials (one pair at a time).

    Raises CredentialsLocked while SCIM is off, ValidationError when a pair exists already.
    """
    _require_scim_enabled(company)
    secret = secrets.generate_secret(secrets.BASIC_SECRET_PREFIX)
    credential = Credential(
        kind=Credential.Kind.BASIC,
        name=BASIC_DEFAULT_NAME,
        note=note.strip(),
        username=secrets.generate_basic_username(),
        display_prefix=secrets.display_prefix(secret, secrets.BASIC_SECRET_PREFIX),
        secret_hash=secrets.hash_secret(secret),
        created_by=actor,
    )
    try:
        with transaction.atomic():
            credential.save()
            CredentialEvent.objects.create(
                credential=credential, action=CredentialEvent.Action.CREATED, actor=actor, ip=ip
            )
    except IntegrityError:
        raise ValidationError(
            "Basic credentials exist already. Regenerate their secret or revoke them first.",
            code="unique",
        ) from None
    return IssuedCredential(credential=credential, secret=secret)


def basic_regenerate(
    *, company: Company, credential_id: str, actor: str, ip: str | None = None
) -> IssuedCredential:
    """New secret for the Basic credentials, same username; the old secret stops working now.

    Raises CredentialsLocked while SCIM is off, Credential.DoesNotExist for an unknown or
    revoked pair.
    """
    _require_scim_enabled(company)
    secret = secrets.generate_secret(secrets.BASIC_SECRET_PREFIX)
    with transaction.atomic():
        credential = (
            Credential.objects.select_for_update()
            .not_revoked()
            .get(pk=credential_id, kind=Credential.Kind.BASIC)
        )
        credential.secret_hash = secrets.hash_secret(secret)
        credential.display_prefix = secrets.display_prefix(secret, secrets.BASIC_SECRET_PREFIX)
        credential.save(update_fields=["secret_hash", "display_prefix"])
        CredentialEvent.objects.create(
            credential=credential, action=CredentialEvent.Action.REGENERATED, actor=actor, ip=ip
        )
    return IssuedCredential(credential=credential, secret=secret)


def credential_revoke(*, credential_id: str, actor: str, ip: str | None = None) -> Credential:
    """Revoke a credential; it fails from the next request on. Revoking twice is a no-op.

    Raises Credential.DoesNotExist for an unknown id. Allowed while SCIM is off: shutting a
    door must always be possible.
    """
    with transaction.atomic():
        credential = Credential.objects.select_for_update().get(pk=credential_id)
        if credential.revoked_at is None:
            credential.revoked_at = timezone.now()
            credential.revoked_by = actor
            credential.save(update_fields=["revoked_at", "revoked_by"])
            CredentialEvent.objects.create(
                credential=credential, action=CredentialEvent.Action.REVOKED, actor=actor, ip=ip
            )
    return credential


def credential_record_use(*, credential: Credential, ip: str | None) -> None:
    """Note that `credential` was just used. Writes at most once per LAST_USED_RESOLUTION, and
    records the first use in the audit trail."""
    now = timezone.now()
    if credential.last_used_at is None:
        first = Credential.objects.filter(pk=credential.pk, last_used_at__isnull=True).update(
            last_used_at=now, last_used_ip=ip
        )
        if first:
            CredentialEvent.objects.create(
                credential=credential,
                action=CredentialEvent.Action.FIRST_USED,
                actor=f"{credential.get_kind_display()} {credential.name}",
                ip=ip,
            )
    elif now - credential.last_used_at >= LAST_USED_RESOLUTION:
        Credential.objects.filter(
            pk=credential.pk, last_used_at__lt=now - LAST_USED_RESOLUTION
        ).update(last_used_at=now, last_used_ip=ip)
