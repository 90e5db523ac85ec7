"""Companies (tenants) and their routes. These tables live in the `public` schema."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from tenants.policies import validate_attribute_allowlist
from tenants.slugs import SLUG_MAX_LENGTH, validate_company_slug


def system_schema_names() -> tuple[str, str]:
    """Schemas that have a Company row for django-tenants' sake but are not customers."""
    return (settings.PUBLIC_SCHEMA_NAME, settings.TENANT_BASE_SCHEMA)


class CompanyQuerySet(models.QuerySet["Company"]):
    def customers(self) -> CompanyQuerySet:
        """Real companies: everything but the `public` row and the base (template) schema."""
        return self.exclude(schema_name__in=system_schema_names())


class Company(TenantMixin):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    slug = models.CharField(
        max_length=SLUG_MAX_LENGTH,
        unique=True,
        validators=[validate_company_slug],
        # Braces, not angle brackets: the admin renders help text as HTML.
        help_text="Used in the company's URLs: /t/{slug}/ and /t/{slug}/scim/v2/. Cannot change.",
    )
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)

    scim_enabled = models.BooleanField(
        "SCIM provisioning",
        default=False,
        help_text="Until support switches this on, the company cannot create credentials and "
        "its SCIM endpoint refuses every call.",
    )
    # Who flipped the switch last, as text: support staff live in `public`, and a foreign key
    # to the user table would resolve to the *company's* user table inside a tenant schema.
    scim_changed_by = models.CharField("SCIM changed by", max_length=254, blank=True)
    scim_changed_at = models.DateTimeField("SCIM changed at", null=True, blank=True)

    seat_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Active users allowed. Empty means unlimited."
    )
    # Active users, kept by the member services under a row lock on this company (the seat
    # lock); recomputed by the periodic seat check. Lets support list thousands of companies
    # with usage without counting inside thousands of schemas.
    seats_used = models.PositiveIntegerField(default=0)

    class SeatLevel(models.TextChoices):
        OK = "ok", "OK"
        WARNING = "warning", "Nearly full"
        FULL = "full", "Full"
        OVER = "over", "Over the limit"

    # Set by the periodic seat check; warnings are sent when the level rises.
    seat_level = models.CharField(max_length=8, choices=SeatLevel.choices, default=SeatLevel.OK)
    seats_checked_at = models.DateTimeField(null=True, blank=True)

    # SCIM policies (set by support; shown read-only to company admins).
    username_immutable = models.BooleanField(
        "userName cannot change",
        default=False,
        help_text="Refuse any change of a user's userName (400 mutability).",
    )
    username_is_work_email = models.BooleanField(
        "userName must be the primary work email",
        default=False,
        help_text="Refuse users whose userName differs from their primary work email (400).",
    )
    attribute_allowlist = models.JSONField(
        "attributes kept",
        default=list,
        blank=True,
        validators=[validate_attribute_allowlist],
        help_text='SCIM attributes this company maps, e.g. ["name", "emails", '
        '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"]. '
        "Others are ignored: not stored, not returned. Empty: keep every attribute. userName, "
        "externalId and active are always kept.",
    )

    scim_strict = models.BooleanField(
        "strict attribute values",
        default=False,
        help_text="Refuse (400 invalidValue) a user whose country, time zone or language "
        "cannot be normalised. Off: the user is provisioned without that value and the "
        "provisioning log shows a warning.",
    )

    class DeleteAction(models.TextChoices):
        DELETE = "delete", "Delete the user"
        DEACTIVATE = "deactivate", "Deactivate the user and keep them"

    scim_delete_action = models.CharField(
        "SCIM DELETE of a user",
        max_length=16,
        choices=DeleteAction.choices,
        default=DeleteAction.DELETE,
        help_text="What DELETE /Users/{id} does. Deactivate: the user stays (active false, "
        "seat freed), readable and filterable, and the identity provider can reactivate them.",
    )

    scim_rate_limit = models.PositiveIntegerField(
        "SCIM requests per minute",
        null=True,
        blank=True,
        help_text="Limit on this company's SCIM API, all credentials together. Blank: the "
        "default (SCIM_RATE_LIMIT_PER_MINUTE). 0: unlimited.",
    )

    # The brake on mass deprovisioning (directory.brake): more deactivations and deletions of
    # active users within the window than max(minimum, percent of the active users when the
    # window began) are held (503) until an owner or support releases the brake.
    deprovision_brake_percent = models.PositiveSmallIntegerField(
        "deprovisioning brake: percent",
        default=20,
        validators=[MaxValueValidator(100)],
        help_text="Hold further deactivations and deletions once the identity provider has "
        "removed more than this percent of the active users within the window. 0: no brake.",
    )
    deprovision_brake_minimum = models.PositiveIntegerField(
        "deprovisioning brake: minimum people",
        default=10,
        help_text="The brake never holds before this many people were removed in the window.",
    )
    deprovision_brake_window_minutes = models.PositiveIntegerField(
        "deprovisioning brake: window (minutes)",
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
    )
    # The rolling counter, changed only under the seat lock in the deprovision's transaction:
    # no scan of the ledger per request.
    deprovision_window_start = models.DateTimeField(null=True, blank=True)
    deprovision_window_base = models.PositiveIntegerField(default=0)
    deprovision_window_count = models.PositiveIntegerField(default=0)
    # Let through on top of the allowance: the requests held before a release.
    deprovision_window_extra = models.PositiveIntegerField(default=0)
    # Set when the brake trips, cleared when it is released or confirmed.
    deprovision_held_since = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CompanyQuerySet.as_manager()

    # A deleted company keeps its schema until support drops it deliberately (see docs).
    auto_drop_schema = False
    auto_create_schema = True

    class Meta:
        verbose_name = "company"
        verbose_name_plural = "companies"
        ordering = ["slug"]
        permissions = [("switch_scim", "Can switch SCIM provisioning on or off")]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def seats_display(self) -> str:
        limit = "unlimited" if self.seat_limit is None else str(self.seat_limit)
        return f"{self.seats_used} / {limit}"

    @property
    def portal_path(self) -> str:
        return f"/{settings.TENANT_SUBFOLDER_PREFIX}/{self.slug}/"

    @property
    def scim_base_path(self) -> str:
        return f"{self.portal_path}scim/v2"


class Domain(DomainMixin):
    """The route of a company. With subfolder routing `domain` holds the slug in `/t/<slug>/`."""

    class Meta:
        verbose_name = "route"


class CompanyEvent(models.Model):
    """Support-side audit trail: who changed what about a company, and when."""

    class Action(models.TextChoices):
        CREATED = "created", "Company created"
        SCIM_ENABLED = "scim_enabled", "SCIM provisioning switched on"
        SCIM_DISABLED = "scim_disabled", "SCIM provisioning switched off"
        SEAT_LIMIT_CHANGED = "seat_limit_changed", "Seat limit changed"
        STATUS_CHANGED = "status_changed", "Status changed"
        RENAMED = "renamed", "Renamed"
        POLICY_CHANGED = "policy_changed", "SCIM policy changed"
        BRAKE_TRIPPED = "brake_tripped", "Deprovisioning paused by the brake"
        BRAKE_RELEASED = "brake_released", "Deprovisioning brake released"
        BRAKE_CONFIRMED = "brake_confirmed", "Held deprovisioning confirmed"
        LOGIN_ADDED = "login_added", "Portal login added"
        LOGIN_INVITED = "login_invited", "Portal login invited"
        LOGIN_ROLE_CHANGED = "login_role_changed", "Portal login's role changed"
        LOGIN_SWITCHED_OFF = "login_switched_off", "Portal login switched off"
        LOGIN_SWITCHED_ON = "login_switched_on", "Portal login switched on"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=32, choices=Action.choices)
    actor = models.CharField(max_length=254, help_text="Staff email, or the command that acted.")
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["company", "-created_at"], name="companyevent_company_recent")
        ]

    def __str__(self) -> str:
        return f"{self.company.slug}: {self.get_action_display()}"


class SeatUsage(models.Model):
    """A snapshot taken by the periodic seat check: usage over time, per company."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="seat_usage")
    seats_used = models.PositiveIntegerField()
    seat_limit = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["company", "-created_at"], name="seatusage_company_recent")]

    def __str__(self) -> str:
        return f"{self.company_id}: {self.seats_used}/{self.seat_limit}"


class OAuthClientCompany(models.Model):
    """Reserves an identity provider's OAuth client (registered by support) for named
    companies. A client with no rows here serves every company; with rows, only those. A
    client registered for one company keeps its secret, which that company's admins must
    paste into their IdP, from working anywhere else."""

    application = models.ForeignKey(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="companies"
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="oauth_clients")

    class Meta:
        verbose_name = "company allowed to use this client"
        verbose_name_plural = "companies allowed to use this client (none: every company)"
        constraints = [
            models.UniqueConstraint(
                fields=["application", "company"], name="oauth_client_company_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.application} for {self.company}"


class SchemaPoolEntry(models.Model):
    """A schema cloned from the base ahead of time, waiting to become a company's
    (tenants.schema_pool)."""

    schema_name = models.CharField(max_length=63, unique=True)
    fingerprint = models.CharField(
        max_length=32, help_text="The base schema's migrations when it was cloned."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "pooled schema"

    def __str__(self) -> str:
        return self.schema_name
