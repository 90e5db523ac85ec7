"""Vendor API keys: the vendor's backend reads events and directories of every company
through /api/v1/ with one. Issued by support (the admin, `manage.py vendor_key_issue`), shown
once, stored as SHA-256 (tokens.secrets), read-only by construction (the API has only GETs),
revoked at once. The rows live in `public` (events.feed.models.VendorKey): a key belongs to
no company."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from events.feed.models import VendorKey
from tokens import secrets

# Last use is written at most this often per key, so reading the API is not a write per call.
LAST_USED_PRECISION = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class IssuedVendorKey:
    key: VendorKey
    secret: str  # shown once, never stored


NAME_MAX_LENGTH = VendorKey._meta.get_field("name").max_length or 0


def vendor_key_issue(*, name: str, actor: str) -> IssuedVendorKey:
    """A new key named `name`. Raises ValidationError for an empty or over-long name."""
    name = name.strip()
    if not name:
        raise ValidationError("Give the key a name.", code="required")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            f"A key name can be at most {NAME_MAX_LENGTH} characters; this one has {len(name)}.",
            code="max_length",
        )
    secret = secrets.generate_secret(secrets.VENDOR_KEY_PREFIX)
    key = VendorKey.objects.create(
        name=name,
        display_prefix=secrets.display_prefix(secret, secrets.VENDOR_KEY_PREFIX),
        secret_hash=secrets.hash_secret(secret),
        created_by=actor,
    )
    return IssuedVendorKey(key=key, secret=secret)


def vendor_key_revoke(*, key_id: str, actor: str) -> VendorKey:
    """Revoke a key; the next request with it is refused. Revoking twice is a no-op. Raises
    VendorKey.DoesNotExist for an unknown id."""
    with transaction.atomic():
        key = VendorKey.objects.select_for_update().get(pk=key_id)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.revoked_by = actor
            key.save(update_fields=["revoked_at", "revoked_by"])
    return key


def vendor_key_for_secret(secret: str) -> VendorKey | None:
    """The live key whose secret this is, or None (malformed, unknown or revoked): one indexed
    lookup, none for a malformed secret."""
    if not secrets.is_well_formed(secret, secrets.VENDOR_KEY_PREFIX):
        return None
    return VendorKey.objects.filter(
        secret_hash=secrets.hash_secret(secret), revoked_at__isnull=True
    ).first()


def vendor_key_record_use(key: VendorKey) -> None:
    """Note that `key` was used now (at most once per LAST_USED_PRECISION)."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_PRECISION:
        return
    VendorKey.objects.filter(pk=key.pk).update(last_used_at=now)
    key.last_used_at = now
