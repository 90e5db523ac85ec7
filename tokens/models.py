"""API credentials of one company (tables in the company's schema). Only hashes are stored."""

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

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=100)
    note = models.TextField(max_length=1000, blank=True)
    # Basic credentials only: the username the identity provider sends.
    username = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # The first characters of the secret, so admins can tell credentials apart.
    display_prefix = models.CharField(max_length=16)
    secret_hash = models.CharField(max_length=64, unique=True)

    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=254, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                condition=Q(revoked_at__isnull=True, kind="token"),
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
                | Q(kind="token", username__isnull=True),
                name="credential_username_iff_basic",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name} ({self.display_prefix}…)"

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


class CredentialEvent(models.Model):
    """Audit trail of credentials, shown to company admins and to support staff."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        REVOKED = "revoked", "Revoked"
        REGENERATED = "regenerated", "Secret regenerated"
        FIRST_USED = "first_used", "Used for the first time"

    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.CharField(max_length=254)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor}"
