"""API credentials of one company (tables in the company's schema). Only hashes are stored.

An OAuth connection (an identity provider a company admin approved) is a Credential of kind
`oauth`: it carries the name, who approved it, last use, revocation and the audit trail like
any other credential. Its short-lived access tokens and its refresh token are OAuthToken rows
hanging off it; authorization codes are OAuthGrant rows. All of them live in the company's
schema, so a code or token of one company does not exist at another.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


class CredentialQuerySet(models.QuerySet["Credential"]):
    def not_revoked(self) -> CredentialQuerySet:
        return self.filter(revoked_at__isnull=True)

    def usable(self) -> CredentialQuerySet:
        """Not revoked and not expired, now."""
        return self.not_revoked().filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )


class Credential(models.Model):
    class Kind(models.TextChoices):
        TOKEN = "token", "Bearer token"
        BASIC = "basic", "Basic credentials"
        OAUTH = "oauth", "OAuth connection"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    class Scope(models.TextChoices):
        FULL = "full", "Full access"
        # GET, and POST …/.search (a read sent as POST): scim/permissions.py
        READ_ONLY = "read", "Read-only"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=100)
    note = models.TextField(max_length=1000, blank=True)
    # Basic credentials only: the username the identity provider sends.
    username = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # The first characters of the secret, so admins can tell credentials apart.
    display_prefix = models.CharField(max_length=16)
    # Empty for OAuth connections: their secrets are the rotating OAuthToken rows.
    secret_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # OAuth connections only: the client (a DOT Application in `public`) as text, not a foreign
    # key, so support can delete a client without reaching into every company's schema.
    oauth_client_id = models.CharField(max_length=100, blank=True)
    oauth_scope = models.CharField(max_length=200, blank=True)

    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=254, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.FULL)
    # Two-phase rotation (tokens/services.token_rotate): the old token keeps working, next to
    # its successor, until an admin confirms the switch or `retires_at` passes; then it is
    # revoked. Set on the old token only.
    successor = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="predecessors"
    )
    retires_at = models.DateTimeField(null=True, blank=True)
    # The smallest expiry reminder (days before expiry) already e-mailed, so each goes once.
    expiry_reminded_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # Minted by the portal's Test connection for its own probes (tokens/services.py,
    # probe_token_issue): never shown, deleted right after, and not the IdP's traffic.
    internal = models.BooleanField(default=False)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                # A token being rotated out shares its name with its successor.
                condition=Q(revoked_at__isnull=True, kind="token", retires_at__isnull=True),
                name="credential_token_name_unique_while_not_revoked",
                violation_error_message="A token with this name exists already.",
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(revoked_at__isnull=True, kind="basic"),
                name="credential_one_basic_at_a_time",
            ),
            models.CheckConstraint(
                condition=Q(kind="basic", username__isnull=False)
                | Q(kind__in=["token", "oauth"], username__isnull=True),
                name="credential_username_iff_basic",
            ),
            models.CheckConstraint(
                condition=Q(kind="oauth", secret_hash__isnull=True)
                | (~Q(kind="oauth") & Q(secret_hash__isnull=False)),
                name="credential_secret_hash_unless_oauth",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.OAUTH:
            return self.label
        return f"{self.label} ({self.display_prefix}…)"

    @property
    def label(self) -> str:
        """Its kind and name, as the portal and the audit trail name it: "Bearer token Okta".
        Basic credentials are named after their kind, and said once."""
        kind = self.get_kind_display()
        return self.name if self.name == kind else f"{kind} {self.name}"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.ACTIVE

    @property
    def is_usable(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def is_read_only(self) -> bool:
        return self.scope == self.Scope.READ_ONLY

    @property
    def is_retiring(self) -> bool:
        """Being rotated out: still works until confirmed or `retires_at`."""
        return self.revoked_at is None and self.retires_at is not None

    def expires_in_days(self) -> int | None:
        """Whole days until expiry (0 on the last day), for "expires in 3 days"; None when it
        never expires or has expired."""
        if self.expires_at is None or self.revoked_at is not None:
            return None
        left = self.expires_at - timezone.now()
        if left.total_seconds() <= 0:
            return None
        return left.days


class CredentialEvent(models.Model):
    """Audit trail of credentials, shown to company admins and to support staff."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        REVOKED = "revoked", "Revoked"
        REGENERATED = "regenerated", "Secret regenerated"
        FIRST_USED = "first_used", "Used for the first time"
        TOKENS_ISSUED = "oauth_issued", "OAuth tokens issued"
        TOKENS_REFRESHED = "oauth_refreshed", "OAuth tokens refreshed"
        ROTATED = "rotated", "Rotated: successor issued"
        ROTATION_CONFIRMED = "rotate_confirmed", "Rotation confirmed: old token revoked"
        AUTO_REVOKED = "auto_revoked", "Rotation grace period over: revoked"
        EXPIRY_REMINDED = "expiry_reminder", "Expiry reminder e-mailed"

    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=Action.choices)
    # The credential's display prefix when it happened: a Basic secret regenerated later has
    # another. Empty for OAuth connections, and where it was not recorded (rows written
    # before it was kept, of a Basic pair regenerated since).
    display_prefix = models.CharField(max_length=16, blank=True)
    actor = models.CharField(max_length=254)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor}"

    @classmethod
    def of(
        cls, credential: Credential, action: str, *, actor: str, ip: str | None = None
    ) -> CredentialEvent:
        """An event of `credential` (not saved), with the display prefix it has now."""
        return cls(
            credential=credential,
            display_prefix=credential.display_prefix,
            action=action,
            actor=actor,
            ip=ip,
        )


class OAuthGrant(models.Model):
    """An authorization code a company admin's consent produced (RFC 6749 §4.1.2). Kept after
    use, marked `used_at`, so a replayed code can be recognised and the tokens issued from it
    revoked (§4.1.2: "SHOULD revoke all tokens previously issued based on that code")."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code_hash = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=100)
    client_name = models.CharField(max_length=255)
    redirect_uri = models.TextField()
    scope = models.CharField(max_length=200)
    code_challenge = models.CharField(max_length=128, blank=True)
    code_challenge_method = models.CharField(max_length=10, blank=True)
    approved_by = models.CharField(max_length=254)
    approved_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # The connection this code was exchanged for, revoked if the code is replayed.
    credential = models.ForeignKey(
        Credential, on_delete=models.CASCADE, null=True, blank=True, related_name="oauth_grants"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Code for {self.client_name} approved by {self.approved_by}"


class OAuthToken(models.Model):
    """An access or refresh token of an OAuth connection; only its SHA-256 is stored."""

    class Kind(models.TextChoices):
        ACCESS = "access", "Access token"
        REFRESH = "refresh", "Refresh token"

    id = models.BigAutoField(primary_key=True)
    credential = models.ForeignKey(
        Credential, on_delete=models.CASCADE, related_name="oauth_tokens"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["credential"],
                condition=Q(revoked_at__isnull=True),
                name="oauthtoken_live_by_credential",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.credential_id}"
