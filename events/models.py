"""The change events of one company: the transactional outbox in the company's schema.

A row is written by `events.outbox.emit` in the transaction of the change it describes, so a
rolled-back change leaves no event and nothing but PostgreSQL is needed at write time. Rows
carry no delivery state: whoever consumes them (the vendor API, the relay into the public
feed, webhook delivery) keeps its own cursor.

Not to be confused with `directory.models.ProvisioningEvent`, the ledger of SCIM calls.
"""

from __future__ import annotations

import uuid

from django.db import models


class ChangeEvent(models.Model):
    # The per-company position: 1, 2, 3 … with no gaps, in commit order (events.outbox).
    seq = models.BigIntegerField(primary_key=True)
    # No index: nothing reads the outbox by id (readers follow seq), and the feed's unique
    # index on FeedEvent.id still refuses a repeated id.
    id = models.UUIDField(default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    resource_type = models.CharField(max_length=16)  # User, Group, Company
    resource_id = models.UUIDField(null=True, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    user_name = models.CharField(max_length=255, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    # The attribute names an update changed (user.updated); empty otherwise.
    changed = models.JSONField(default=list)
    # The resource as it is after the change (the SCIM JSON a GET returns), or the details of
    # a membership or company event; null for deletions.
    data = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    idp = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["occurred_at"], name="changeevent_occurred_at")]

    def __str__(self) -> str:
        return f"{self.seq} {self.type}"
