"""Public-schema tables of the events: each company's stream position, the feed across all
companies (filled by the relay, events.relay) and the vendor API keys that read it."""

from __future__ import annotations

import uuid

from django.db import models


class EventStream(models.Model):
    """The last `ChangeEvent.seq` handed out in a company's schema. Writers take the next
    numbers with an UPDATE of this row, which holds its lock until they commit: numbers are
    therefore taken in commit order and a reader never sees seq N+1 before seq N."""

    schema_name = models.CharField(max_length=63, primary_key=True)
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.schema_name} at {self.last_seq}"


class RelayCursor(models.Model):
    """How far the relay has copied a company's events into the feed. A table of its own so
    the relay never waits for the stream row that writers hold locked."""

    schema_name = models.CharField(max_length=63, primary_key=True)
    relayed_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.schema_name} relayed to {self.relayed_seq}"


class FeedEvent(models.Model):
    """A company's event copied into the one feed of all companies. `position` is assigned
    by the relay, which runs alone (an advisory lock): a reader at position P never finds a
    smaller position committed later, and each company's events are in its `seq` order."""

    position = models.BigAutoField(primary_key=True)
    schema_name = models.CharField(max_length=63)
    seq = models.BigIntegerField()
    id = models.UUIDField(unique=True)
    type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    resource_type = models.CharField(max_length=16)
    resource_id = models.UUIDField(null=True, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    user_name = models.CharField(max_length=255, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    changed = models.JSONField(default=list)
    data = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    idp = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["schema_name", "seq"], name="feedevent_company_seq")
        ]
        indexes = [models.Index(fields=["occurred_at"], name="feedevent_occurred_at")]

    def __str__(self) -> str:
        return f"{self.position} {self.schema_name}#{self.seq} {self.type}"


class VendorKey(models.Model):
    """A key of the vendor's backend for the read-only events and directory API (/api/v1/).
    Only the SHA-256 of the secret is kept (tokens.secrets); issued and revoked by
    tokens.vendor_keys."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    display_prefix = models.CharField(max_length=16)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "vendor API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix}…)"
