"""Writes about credentials: issue, regenerate, revoke, record use. The plaintext secret is
returned once, from the function that made it, and never stored or logged."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from events.outbox import EventType, NewEvent, Origin, emit
from tenants.gate import scim_gate
from tenants.models import Company
from tokens import secrets
from tokens.models import Credential, CredentialEvent, OAuthGrant, OAuthToken

logger = logging.getLogger(__name__)

ACTOR_LENGTH = 254  # CredentialEvent.actor, Credential.revoked_by

# `last_used_at` is refreshed at most this often, so using a credential is not a write per call.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

BASIC_DEFAULT_NAME = "Basic credentials"


class CredentialsLocked(Exception):
    """Credentials cannot be created: support has not switched SCIM provisioning on, or has
    suspended the company. The message is the gate's, for the company's admins."""


@dataclass(frozen=True)
class IssuedCredential:
    credential: Credential
    secret: str  # shown to the person once, then gone

    @property
    def basic_pair(self) -> str:
        return f"{self.credential.username}:{self.secret}"


def _announce(kind: str, credential: Credential, actor: str) -> None:
    """The change event of a credential created, revoked or given a new secret, in the
    current transaction: which credential (never its secret: not even the display prefix)
    and who acted."""
    emit(
        [
            NewEvent(
                type=kind,
                resource_type="Company",
                display_name=credential.name,
                data={
                    "credential": {
                        "id": str(credential.pk),
                        "kind": credential.kind,
                        "name": credential.name,
                    },
                    "actor": actor,
                },
            )
        ],
        origin=Origin(),
    )


def _require_scim_open(company: Company) -> None:
    # Read fresh: support may have flipped the switch or suspended the company since the
    # request loaded it. A credential the SCIM API would refuse is not worth issuing.
    gate = scim_gate(company, fresh=True)
    if not gate.open:
        raise CredentialsLocked(gate.detail)


NAME_MAX_LENGTH = Credential._meta.get_field("name").max_length or 0
NOTE_MAX_LENGTH = Credential._meta.get_field("note").max_length or 0


def _note(note: str) -> str:
    """The note as stored; ValidationError past its limit (a text column: PostgreSQL would
    store any length, so the limit holds here, for the command as for the forms)."""
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError(
            f"A note can be at most {NOTE_MAX_LENGTH:,} characters; this one has {len(note):,}.",
            code="max_length",
        )
    return note


def token_issue(
    *,
    company: Company,
    name: str,
    actor: str,
    note: str = "",
    expires_at: dt.datetime | None = None,
    scope: str = Credential.Scope.FULL,
    ip: str | None = None,
) -> IssuedCredential:
    """Issue a named Bearer token in the current company's schema; `scope` is
    Credential.Scope (read-only tokens may only read: scim/permissions.py).

    Raises CredentialsLocked while SCIM is off or the company suspended, ValidationError for
    an empty, over-long or taken name, an over-long note or an expiry in the past.
    """
    name = name.strip()
    if not name:
        raise ValidationError("Give the token a name.", code="required")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            f"A token name can be at most {NAME_MAX_LENGTH} characters; this one has {len(name)}.",
            code="max_length",
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("The expiry must be in the future.", code="invalid")
    if scope not in Credential.Scope.values:
        raise ValidationError(f"Unknown scope {scope!r}.", code="invalid")
    note = _note(note)
    _require_scim_open(company)
    secret = secrets.generate_secret(secrets.BEARER_PREFIX)
    credential = Credential(
        kind=Credential.Kind.TOKEN,
        name=name,
        note=note,
        display_prefix=secrets.display_prefix(secret, secrets.BEARER_PREFIX),
        secret_hash=secrets.hash_secret(secret),
        created_by=actor,
        expires_at=expires_at,
        scope=scope,
    )
    try:
        with transaction.atomic():
            credential.save()
            CredentialEvent.of(
                credential, CredentialEvent.Action.CREATED, actor=actor, ip=ip
            ).save()
            _announce(EventType.CREDENTIAL_CREATED, credential, actor)
    except IntegrityError:
        raise ValidationError(
            f'A token named "{name}" exists already. '
            "Choose another name, or revoke that one first.",
            code="unique",
        ) from None
    return IssuedCredential(credential=credential, secret=secret)


PROBE_LIFETIME = dt.timedelta(seconds=60)


def probe_token_issue(*, company: Company) -> IssuedCredential:
    """A Bearer token for the portal's Test connection to call the company's own SCIM API
    with: marked internal (not the identity provider's traffic, not in any list, no audit
    rows), expiring in PROBE_LIFETIME whatever happens, and deleted by
    `probe_token_discard` as soon as the probes are done. The secret is never shown.

    Issued even while SCIM is off, on purpose: the probes must see the 403 the identity
    provider gets."""
    secret = secrets.generate_secret(secrets.BEARER_PREFIX)
    credential = Credential.objects.create(
        kind=Credential.Kind.TOKEN,
        name=f"Test connection {uuid.uuid4().hex[:12]}",
        display_prefix=secrets.display_prefix(secret, secrets.BEARER_PREFIX),
        secret_hash=secrets.hash_secret(secret),
        created_by="Test connection",
        expires_at=timezone.now() + PROBE_LIFETIME,
        internal=True,
        # The probes only read: a probe token that leaked in its minute could write nothing.
        scope=Credential.Scope.READ_ONLY,
    )
    return IssuedCredential(credential=credential, secret=secret)


def probe_token_discard(*, credential_id: uuid.UUID) -> None:
    """Delete a probe token: it stops working at once (lookups find nothing)."""
    Credential.objects.filter(pk=credential_id, internal=True).delete()


def basic_issue(
    *, company: Company, actor: str, note: str = "", ip: str | None = None
) -> IssuedCredential:
    """Issue the company's Basic credentials (one pair at a time).

    Raises CredentialsLocked while SCIM is off or the company suspended, ValidationError when
    a pair exists already or for an over-long note.
    """
    note = _note(note)
    _require_scim_open(company)
    secret = secrets.generate_secret(secrets.BASIC_SECRET_PREFIX)
    credential = Credential(
        kind=Credential.Kind.BASIC,
        name=BASIC_DEFAULT_NAME,
        note=note,
        username=secrets.generate_basic_username(),
        display_prefix=secrets.display_prefix(secret, secrets.BASIC_SECRET_PREFIX),
        secret_hash=secrets.hash_secret(secret),
        created_by=actor,
    )
    try:
        with transaction.atomic():
            credential.save()
            CredentialEvent.of(
                credential, CredentialEvent.Action.CREATED, actor=actor, ip=ip
            ).save()
            _announce(EventType.CREDENTIAL_CREATED, credential, actor)
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

    Raises CredentialsLocked while SCIM is off or the company suspended,
    Credential.DoesNotExist for an unknown or revoked pair.
    """
    _require_scim_open(company)
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
        CredentialEvent.of(
            credential, CredentialEvent.Action.REGENERATED, actor=actor, ip=ip
        ).save()
        # Neither revoked (the pair, its id and username stay) nor created (no second pair):
        # its own type, so a consumer watching credentials learns the old secret is dead.
        _announce(EventType.CREDENTIAL_REGENERATED, credential, actor)
    return IssuedCredential(credential=credential, secret=secret)


def credential_revoke(*, credential_id: str, actor: str, ip: str | None = None) -> Credential:
    """Revoke a credential; it fails from the next request on. Revoking twice is a no-op.

    Raises Credential.DoesNotExist for an unknown id. Allowed while SCIM is off: shutting a
    door must always be possible.
    """
    with transaction.atomic():
        credential = Credential.objects.select_for_update().get(pk=credential_id)
        _revoke_locked(credential, actor=actor, ip=ip, action=CredentialEvent.Action.REVOKED)
    return credential


def _revoke_locked(credential: Credential, *, actor: str, ip: str | None, action: str) -> bool:
    """Revoke a credential whose row the caller holds locked; False if it was revoked
    already."""
    if credential.revoked_at is not None:
        return False
    credential.revoked_at = timezone.now()
    credential.revoked_by = actor[:ACTOR_LENGTH]
    credential.save(update_fields=["revoked_at", "revoked_by"])
    # An OAuth connection's access and refresh tokens go with it, in this transaction.
    OAuthToken.objects.filter(credential=credential, revoked_at__isnull=True).update(
        revoked_at=credential.revoked_at
    )
    CredentialEvent.of(credential, action, actor=actor, ip=ip).save()
    _announce(EventType.CREDENTIAL_REVOKED, credential, actor)
    return True


# --- Two-phase rotation -----------------------------------------------------------------------


class RotationRefused(Exception):
    """The token cannot be rotated now (the message says why, for the company's admins)."""


ROTATION_ACTOR = "rotation grace period"


def token_rotate(
    *, company: Company, credential_id: str, actor: str, ip: str | None = None
) -> IssuedCredential:
    """Issue a successor of an active Bearer token: same name, note and scope, and the same
    lifetime from now when the old one had an expiry. Both work until
    `token_rotation_confirm` or until TOKEN_ROTATION_GRACE_DAYS pass, when the old one is
    revoked (`tokens_retire_due`, and at authentication).

    Raises CredentialsLocked while SCIM is off or the company suspended,
    Credential.DoesNotExist for an unknown or unusable token, RotationRefused when it is
    being rotated out already.
    """
    _require_scim_open(company)
    secret = secrets.generate_secret(secrets.BEARER_PREFIX)
    with transaction.atomic():
        old = (
            Credential.objects.select_for_update()
            .usable()
            .get(pk=credential_id, kind=Credential.Kind.TOKEN)
        )
        if old.retires_at is not None:
            raise RotationRefused(
                f"“{old.name}” is being replaced already. Confirm that your identity provider "
                "uses the new token, or revoke one of them."
            )
        now = timezone.now()
        # First out of the name's uniqueness (the constraint skips retiring tokens), then the
        # successor takes the name.
        old.retires_at = now + dt.timedelta(days=settings.TOKEN_ROTATION_GRACE_DAYS)
        old.save(update_fields=["retires_at"])
        successor = Credential.objects.create(
            kind=Credential.Kind.TOKEN,
            name=old.name,
            note=old.note,
            scope=old.scope,
            display_prefix=secrets.display_prefix(secret, secrets.BEARER_PREFIX),
            secret_hash=secrets.hash_secret(secret),
            created_by=actor,
            expires_at=None if old.expires_at is None else now + (old.expires_at - old.created_at),
        )
        old.successor = successor
        old.save(update_fields=["successor"])
        CredentialEvent.objects.bulk_create(
            [
                CredentialEvent.of(old, CredentialEvent.Action.ROTATED, actor=actor, ip=ip),
                CredentialEvent.of(successor, CredentialEvent.Action.CREATED, actor=actor, ip=ip),
            ]
        )
        _announce(EventType.CREDENTIAL_CREATED, successor, actor)
    return IssuedCredential(credential=successor, secret=secret)


def token_rotation_confirm(*, credential_id: str, actor: str, ip: str | None = None) -> Credential:
    """The admin says the identity provider uses the successor: revoke the old token now.
    A token already revoked is left as it is.

    Raises Credential.DoesNotExist unless `credential_id` is a token being rotated out.
    """
    with transaction.atomic():
        old = Credential.objects.select_for_update().get(
            pk=credential_id, kind=Credential.Kind.TOKEN, retires_at__isnull=False
        )
        _revoke_locked(old, actor=actor, ip=ip, action=CredentialEvent.Action.ROTATION_CONFIRMED)
    return old


def token_retire(*, credential: Credential, ip: str | None = None) -> bool:
    """Revoke a rotated-out token whose grace period is over; False when it is not due (or
    was revoked meanwhile)."""
    with transaction.atomic():
        locked = (
            Credential.objects.select_for_update()
            .filter(pk=credential.pk, retires_at__lte=timezone.now())
            .first()
        )
        if locked is None:
            return False
        return _revoke_locked(
            locked, actor=ROTATION_ACTOR, ip=ip, action=CredentialEvent.Action.AUTO_REVOKED
        )


def tokens_retire_due() -> int:
    """Periodic, in the current company's schema: revoke every rotated-out token whose grace
    period is over. Returns how many."""
    due = Credential.objects.not_revoked().filter(retires_at__lte=timezone.now())
    return sum(token_retire(credential=credential) for credential in due)


def credential_record_use(*, credential: Credential, ip: str | None) -> None:
    """Note that `credential` was just used. Writes at most once per LAST_USED_RESOLUTION, and
    records the first use in the audit trail. Internal probe tokens are not recorded."""
    if credential.internal:
        return
    now = timezone.now()
    if credential.last_used_at is None:
        first = Credential.objects.filter(pk=credential.pk, last_used_at__isnull=True).update(
            last_used_at=now, last_used_ip=ip
        )
        if first:
            CredentialEvent.of(
                credential, CredentialEvent.Action.FIRST_USED, actor=credential.label, ip=ip
            ).save()
    elif now - credential.last_used_at >= LAST_USED_RESOLUTION:
        Credential.objects.filter(
            pk=credential.pk, last_used_at__lt=now - LAST_USED_RESOLUTION
        ).update(last_used_at=now, last_used_ip=ip)


# --- OAuth connections ------------------------------------------------------------------------


class ConsentRefused(Exception):
    """A company admin's approval cannot produce an authorization code (the message says why,
    in words the identity provider may show)."""


class GrantAlreadyUsed(Exception):
    """An authorization code or refresh token was used concurrently; only one use wins."""


def client_label(name: str, suffix: str = "") -> str:
    """How an OAuth client appears in the audit trail; fits the 254-character actor columns
    whatever name support gave the client (up to 255 characters)."""
    label = f"OAuth client {name}"
    return label[: ACTOR_LENGTH - len(suffix)] + suffix


def oauth_grant_create(
    *,
    company: Company,
    code: str,
    client_id: str,
    client_name: str,
    redirect_uri: str,
    scope: str,
    code_challenge: str,
    code_challenge_method: str,
    approver: object,
    ip: str | None,
) -> OAuthGrant:
    """Store the authorization code a company admin's approval produced (hashed).

    Raises ConsentRefused unless `approver` is an owner/admin of this company and SCIM is on.
    """
    if not getattr(approver, "can_manage_credentials", False):
        raise ConsentRefused(f"Only owners and admins of {company.name} can approve connections.")
    if not scim_gate(company, fresh=True).open:
        raise ConsentRefused(
            f"SCIM provisioning is not active for {company.name}. Contact support to activate it."
        )
    return OAuthGrant.objects.create(
        code_hash=secrets.hash_secret(code),
        client_id=client_id,
        client_name=client_name,
        redirect_uri=redirect_uri,
        scope=scope,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method,
        approved_by=getattr(approver, "email", "") or "unknown",
        approved_ip=ip,
        expires_at=timezone.now()
        + dt.timedelta(seconds=settings.OAUTH2_PROVIDER["AUTHORIZATION_CODE_EXPIRE_SECONDS"]),
    )


def _store_token_pair(*, credential: Credential, access_token: str, refresh_token: str) -> None:
    now = timezone.now()
    OAuthToken.objects.bulk_create(
        [
            OAuthToken(
                credential=credential,
                kind=OAuthToken.Kind.ACCESS,
                token_hash=secrets.hash_secret(access_token),
                expires_at=now + dt.timedelta(seconds=settings.OAUTH_ACCESS_TOKEN_SECONDS),
            ),
            OAuthToken(
                credential=credential,
                kind=OAuthToken.Kind.REFRESH,
                token_hash=secrets.hash_secret(refresh_token),
                expires_at=now + dt.timedelta(days=settings.OAUTH_REFRESH_TOKEN_DAYS),
            ),
        ]
    )


def oauth_connection_create(
    *, grant: OAuthGrant, access_token: str, refresh_token: str, ip: str | None
) -> Credential:
    """Exchange an authorization code: the connection (a Credential of kind oauth, approved by
    the grant's approver) and its first token pair. The code is spent in the same transaction.

    Raises GrantAlreadyUsed when the code was spent meanwhile.
    """
    with transaction.atomic():
        locked = OAuthGrant.objects.select_for_update().get(pk=grant.pk)
        if locked.used_at is not None:
            raise GrantAlreadyUsed()
        credential = Credential.objects.create(
            kind=Credential.Kind.OAUTH,
            # Credential names are shorter than client names (set by support in the admin).
            name=locked.client_name[: Credential._meta.get_field("name").max_length]
            or "OAuth client",
            display_prefix="",
            oauth_client_id=locked.client_id,
            oauth_scope=locked.scope,
            created_by=locked.approved_by,
        )
        locked.used_at = timezone.now()
        locked.credential = credential
        locked.save(update_fields=["used_at", "credential"])
        _store_token_pair(
            credential=credential, access_token=access_token, refresh_token=refresh_token
        )
        CredentialEvent.objects.bulk_create(
            [
                CredentialEvent.of(
                    credential,
                    CredentialEvent.Action.CREATED,
                    actor=locked.approved_by,
                    ip=locked.approved_ip,
                ),
                CredentialEvent.of(
                    credential,
                    CredentialEvent.Action.TOKENS_ISSUED,
                    actor=client_label(locked.client_name),
                    ip=ip,
                ),
            ]
        )
        _announce(EventType.CREDENTIAL_CREATED, credential, locked.approved_by)
    return credential


def oauth_tokens_rotate(
    *, refresh: OAuthToken, access_token: str, refresh_token: str, ip: str | None
) -> None:
    """Refresh: the presented refresh token and every live access token of the connection are
    revoked, a new pair is stored. Raises GrantAlreadyUsed when the refresh token was spent
    meanwhile (two refreshes racing)."""
    with transaction.atomic():
        credential = Credential.objects.select_for_update().get(pk=refresh.credential_id)
        now = timezone.now()
        spent = OAuthToken.objects.filter(pk=refresh.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if not spent or credential.revoked_at is not None:
            raise GrantAlreadyUsed()
        OAuthToken.objects.filter(
            credential=credential, kind=OAuthToken.Kind.ACCESS, revoked_at__isnull=True
        ).update(revoked_at=now)
        _store_token_pair(
            credential=credential, access_token=access_token, refresh_token=refresh_token
        )
        CredentialEvent.of(
            credential,
            CredentialEvent.Action.TOKENS_REFRESHED,
            actor=client_label(credential.name),
            ip=ip,
        ).save()


def oauth_refresh_replayed(*, token: OAuthToken, ip: str | None) -> None:
    """A refresh token that rotation already spent came back: revoke its connection (both
    tokens of every generation), as for a replayed code."""
    if Credential.objects.filter(pk=token.credential_id, revoked_at__isnull=True).exists():
        credential_revoke(
            credential_id=str(token.credential_id),
            actor="security: refresh token used twice",
            ip=ip,
        )


def oauth_grant_replayed(*, grant: OAuthGrant, ip: str | None) -> None:
    """A spent authorization code came back: revoke the connection it was exchanged for
    (RFC 6749 §4.1.2), since whoever holds the code may hold its tokens too."""
    # Re-read: a code exchanged twice at once was linked by the winner after we loaded it.
    credential_id = (
        OAuthGrant.objects.filter(pk=grant.pk).values_list("credential_id", flat=True).first()
    )
    if (
        credential_id is not None
        and Credential.objects.filter(pk=credential_id, revoked_at__isnull=True).exists()
    ):
        credential_revoke(
            credential_id=str(credential_id),
            actor="security: authorization code used twice",
            ip=ip,
        )


OAUTH_KEEP_AFTER_EXPIRY = dt.timedelta(days=1)


def oauth_purge() -> int:
    """Retention, in the current company's schema: drop authorization codes and OAuth tokens
    a day after they expired. Spent-but-unexpired ones stay, so a replay is still recognised
    (and revokes the connection) for as long as the code or token could have worked.
    Returns how many rows went."""
    cutoff = timezone.now() - OAUTH_KEEP_AFTER_EXPIRY
    grants, _ = OAuthGrant.objects.filter(expires_at__lt=cutoff).delete()
    tokens, _ = OAuthToken.objects.filter(expires_at__lt=cutoff).delete()
    return grants + tokens


# --- Expiry reminders -------------------------------------------------------------------------


def token_expiry_reminders(company: Company) -> int:
    """Periodic, in `company`'s schema: e-mail its owners and admins about each active token
    that expires within one of TOKEN_EXPIRY_REMINDER_DAYS, once per figure (a token first
    seen 2 days before expiry gets only the 3-day reminder). Returns how many were sent.

    The figure sent is claimed with a conditional UPDATE before the e-mail goes, so two
    overlapping runs cannot both send it.
    """
    now = timezone.now()
    thresholds = sorted(settings.TOKEN_EXPIRY_REMINDER_DAYS)
    due = (
        Credential.objects.usable()
        .filter(
            kind=Credential.Kind.TOKEN,
            retires_at__isnull=True,
            expires_at__lte=now + dt.timedelta(days=thresholds[-1]),
        )
        .order_by("expires_at")
    )
    sent = 0
    for credential in due:
        expires_at = credential.expires_at
        if expires_at is None:  # filtered out above; for the type checker
            continue
        figure = next(d for d in thresholds if expires_at <= now + dt.timedelta(days=d))
        with transaction.atomic():
            claimed = (
                Credential.objects.filter(pk=credential.pk)
                .filter(Q(expiry_reminded_days__isnull=True) | Q(expiry_reminded_days__gt=figure))
                .update(expiry_reminded_days=figure)
            )
            if not claimed:
                continue
            CredentialEvent.of(
                credential,
                CredentialEvent.Action.EXPIRY_REMINDED,
                actor=f"expiry reminder ({figure} days)",
            ).save()
        _send_expiry_reminder(company, credential)
        sent += 1
    return sent


def _send_expiry_reminder(company: Company, credential: Credential) -> None:
    recipients = list(
        User.objects.filter(
            is_active=True, role__in=[User.Role.OWNER, User.Role.ADMIN]
        ).values_list("email", flat=True)
    )
    if not recipients or credential.expires_at is None:
        return
    page = f"{settings.PUBLIC_BASE_URL}{company.portal_path}access/"
    send_mail(
        subject=(
            f"Headcount: the API token “{credential.name}” of {company.name} expires on "
            f"{credential.expires_at:%Y-%m-%d}"
        ),
        message=(
            f"The API token “{credential.name}” ({credential.display_prefix}…) of "
            f"{company.name} expires on {credential.expires_at:%Y-%m-%d %H:%M} UTC.\n\n"
            "After that your identity provider can no longer provision users with it. "
            "Rotate it on Access rights: the new token is shown once, and the old one keeps "
            "working until you confirm your identity provider uses the new one.\n\n"
            f"{page}\n"
        ),
        from_email=None,
        recipient_list=recipients,
        fail_silently=True,
    )
    logger.info(
        "Token expiry reminder sent to %d admin(s) of %s", len(recipients), company.schema_name
    )
