"""Webhook endpoints and their delivery state, in `public`.

Delivery state lives here, never on the company outboxes (events.models.ChangeEvent carries
none): each endpoint keeps a cursor per company stream (`WebhookCursor`) and a log row per
event it tried to send (`WebhookDelivery`).
"""

from __future__ import annotations

import uuid

from django.db import models

from events.outbox import EventType


class WebhookEndpoint(models.Model):
    class Format(models.TextChoices):
        STANDARD = "standard", "Standard Webhooks (JSON)"
        SET = "set", "RFC 9967 Security Event Token (application/secevent+jwt)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=2000)
    # None: every company's events.
    company = models.ForeignKey(
        "tenants.Company", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The event types sent; empty: all of them.
    event_types = models.JSONField(default=list, blank=True)
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.STANDARD)
    enabled = models.BooleanField(default=True)
    # The signing secret (`whsec_…`), encrypted (webhooks.secrets): it must sign, so it cannot
    # be only hashed. During a rotation's grace period the previous one signs too.
    secret_encrypted = models.TextField()
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254)
    # Set by the first failed attempt after a success of any company's stream: the endpoint
    # has answered nothing with a 2xx since. It is disabled once that is
    # WEBHOOK_DISABLE_AFTER_SECONDS old. One company's stuck stream is its cursor's
    # `failing_since` (an endpoint for all companies goes on succeeding for the others).
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    @staticmethod
    def type_choices() -> list[tuple[str, str]]:
        return [(kind, kind) for kind in EventType.ALL]


class WebhookCursor(models.Model):
    """How far an endpoint has delivered one company's stream (`ChangeEvent.seq`), and when the
    sweeper may hand the stream to a worker again (`retry_at`: backoff; `kicked_at`: a task is
    queued or running; `paused_at`: never, until support resumes it). The admin shows cursors
    as "webhook streams"."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    schema_name = models.CharField(max_length=63)
    delivered_seq = models.BigIntegerField(default=0)
    # Bumped by every resend (webhooks.services.delivery_resend), which may leave
    # `delivered_seq` where it was: a run compares both before it moves the cursor, so it
    # never writes over a resend it did not see (webhooks.delivery._Stream).
    resends = models.BigIntegerField(default=0, db_default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    kicked_at = models.DateTimeField(null=True, blank=True)
    # Set by this stream's first failed attempt after its last success. A stream failing for
    # WEBHOOK_DISABLE_AFTER_SECONDS while its endpoint succeeds for other companies is paused
    # (webhooks.delivery); support resumes it.
    failing_since = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True, default="", db_default="")
    # The endpoint's earlier event types for this stream's backlog at each change of them:
    # [[until_seq, types], …], oldest first. An event is sent by the types in force when it was
    # queued (the first entry whose until_seq it does not pass), later ones by the endpoint's
    # current types (webhooks.services.endpoint_update, webhooks.delivery.wanted).
    types_before = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = "webhook stream"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "schema_name"], name="webhookcursor_endpoint_schema"
            )
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.schema_name} at {self.delivered_seq}"


class WebhookDelivery(models.Model):
    """One event for one endpoint: the delivery log the admin shows."""

    class Status(models.TextChoices):
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        # Not retried while its endpoint is disabled or its company stream paused (`note`
        # says which); enabling or resuming makes it Retrying again.
        ABANDONED = "abandoned", "Abandoned (endpoint disabled or stream paused)"
        # Passed over on purpose (`note` says why): its type is not sent to the endpoint, or
        # the endpoint's format has nothing for it.
        SKIPPED = "skipped", "Skipped"

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    schema_name = models.CharField(max_length=63)
    seq = models.BigIntegerField()
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RETRYING)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Why an abandoned or skipped row is not being retried.
    note = models.CharField(max_length=300, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "schema_name", "seq"], name="webhookdelivery_event"
            )
        ]
        # The admin's log: an endpoint's deliveries, newest first.
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="webhookdelivery_log"),
            # The daily purge of delivered rows (webhooks.tasks.log_purge).
            models.Index(fields=["delivered_at"], name="webhookdelivery_delivered_at"),
            # The rows not delivered (retrying, abandoned, skipped), a few among an endpoint's
            # delivered ones: what disabling, enabling and resuming change, and what the
            # purge takes besides delivered rows, each without reading the endpoint's log.
            models.Index(
                fields=["endpoint", "schema_name"],
                name="webhookdelivery_unsettled",
                condition=~models.Q(status="delivered"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.seq} {self.status}"
