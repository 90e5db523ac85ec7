"""Writes about companies. Every change support makes goes through here and is recorded."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from accounts.models import User
from accounts.services import company_admin_create
from events.outbox import EventType, NewEvent, Origin, emit
from tenants.models import Company, CompanyEvent, Domain
from tenants.policies import validate_attribute_allowlist
from tenants.schema_clone import clone_schema
from tenants.schema_pool import base_fingerprint, pool_take
from tenants.slugs import schema_name_for, validate_company_slug

logger = logging.getLogger(__name__)

POLICY_FIELDS = (
    "username_immutable",
    "username_is_work_email",
    "attribute_allowlist",
    "scim_rate_limit",
    "scim_strict",
    "scim_delete_action",
    "deprovision_brake_percent",
    "deprovision_brake_minimum",
    "deprovision_brake_window_minutes",
)


# Seat limits and rate limits are PostgreSQL integers: a larger number is refused here with a
# message, not by the database with an error.
INTEGER_MAX = 2_147_483_647


def seat_limit_check(limit: int | None) -> None:
    """Raises ValidationError for a seat limit the column cannot hold (None: unlimited)."""
    if limit is not None and limit < 0:
        raise ValidationError("A seat limit cannot be negative.", code="invalid")
    if limit is not None and limit > INTEGER_MAX:
        raise ValidationError(
            f"A seat limit can be at most {INTEGER_MAX:,} (or unlimited); got {limit:,}.",
            code="invalid",
        )


@dataclass(frozen=True)
class InitialAdmin:
    email: str
    password: str


def company_create(
    *,
    slug: str,
    name: str,
    actor: str,
    seat_limit: int | None = None,
    scim_enabled: bool = False,
    admin: InitialAdmin | None = None,
) -> Company:
    """Create a company, its schema (cloned from the base schema), its route and, optionally,
    its first owner. All of it or none of it: any failure rolls the whole creation back.

    Raises ValidationError for a bad slug, a taken slug, an empty name, a bad admin email or a
    password the validators refuse.
    """
    slug = slug.strip()
    name = name.strip()
    validate_company_slug(slug)
    if not name:
        raise ValidationError("A company name is required.", code="required")
    seat_limit_check(seat_limit)

    now = timezone.now()
    with transaction.atomic():
        _lock_schema_name(schema_name_for(slug))
        if Company.objects.filter(slug=slug).exists():
            raise ValidationError(
                f'A company with the slug "{slug}" already exists.', code="unique"
            )
        company = Company(
            schema_name=schema_name_for(slug),
            slug=slug,
            name=name,
            seat_limit=seat_limit,
            scim_enabled=scim_enabled,
            scim_changed_by=actor if scim_enabled else "",
            scim_changed_at=now if scim_enabled else None,
        )
        company.full_clean()
        if schema_exists(company.schema_name):
            # auto_drop_schema is off: a deleted company's schema stays until support drops
            # it, and a new company must not inherit its data.
            raise ValidationError(
                f'The schema of a deleted company "{slug}" ({company.schema_name}) still '
                "exists; keep what must be kept, then drop it before the slug is used again: "
                f'DROP SCHEMA "{company.schema_name}" CASCADE; (docs/operations.md, '
                '"Removing a company").',
                code="unique",
            )
        # A schema cloned ahead of time becomes the company's (a rename); failing that, it is
        # cloned now. Either way it exists before the save, so django-tenants does not clone.
        taken = pool_take(company.schema_name)
        if not taken:
            base = settings.TENANT_BASE_SCHEMA
            clone_schema(base, company.schema_name, fingerprint=base_fingerprint())
        company.save(verbosity=0)
        if taken and settings.SCHEMA_POOL_SIZE > 0:
            transaction.on_commit(_refill_pool)
        Domain.objects.create(domain=slug, tenant=company, is_primary=True)
        CompanyEvent.objects.create(
            company=company,
            action=CompanyEvent.Action.CREATED,
            actor=actor,
            detail={"name": name, "seat_limit": seat_limit, "scim_enabled": scim_enabled},
        )
        if admin is not None:
            with schema_context(company.schema_name):
                owner = company_admin_create(
                    email=admin.email, password=admin.password, role=User.Role.OWNER
                )
            # As tenants.portal_users records every other login.
            CompanyEvent.objects.create(
                company=company,
                action=CompanyEvent.Action.LOGIN_ADDED,
                actor=actor,
                detail={"email": owner.email, "role": owner.role},
            )
    return company


def _lock_schema_name(schema_name: str) -> None:
    """Serialise creations of one schema name until the caller's transaction ends.

    Without it, two creations of one slug both pass the "already exists" check, and the
    second fails deep in its clone or pooled-schema rename on PostgreSQL's unique index of
    schema names (an IntegrityError, not a message). Waiting here, the second sees the first's
    committed company and is refused plainly, or goes ahead if the first rolled back. Other
    slugs are not held up (a hash collision only makes two of them take turns)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"tenants.company_create:{schema_name}"],
        )


def _refill_pool() -> None:
    from tenants.tasks import schema_pool_fill

    try:
        schema_pool_fill.delay()
    except Exception:  # the broker is away: the periodic fill catches up
        logger.warning("Could not queue the schema pool refill.", exc_info=True)


def company_set_scim(*, company: Company, enabled: bool, actor: str, reason: str = "") -> bool:
    """Switch SCIM provisioning on or off, recording `reason` with the change. Returns False
    when it was already in that state (nothing is recorded then). The effect is immediate:
    the SCIM API reads the flag on every request.

    Raises ValidationError when switching off without a reason: it refuses the company's
    identity provider, and the history must say why (the admin asks for one too)."""
    if not enabled and not reason.strip():
        raise ValidationError(
            "Switching SCIM provisioning off needs a reason, kept in the company's history.",
            code="required",
        )
    with transaction.atomic():
        locked = Company.objects.select_for_update().get(pk=company.pk)
        if locked.scim_enabled == enabled:
            return False
        locked.scim_enabled = enabled
        locked.scim_changed_by = actor
        locked.scim_changed_at = timezone.now()
        locked.save(
            update_fields=["scim_enabled", "scim_changed_by", "scim_changed_at", "updated_at"]
        )
        CompanyEvent.objects.create(
            company=locked,
            action=CompanyEvent.Action.SCIM_ENABLED
            if enabled
            else CompanyEvent.Action.SCIM_DISABLED,
            actor=actor,
            detail={"reason": reason.strip()} if reason.strip() else {},
        )
        # The vendor's change event, in the company's own outbox (events.outbox).
        emit(
            [
                NewEvent(
                    type=EventType.SCIM_ENABLED if enabled else EventType.SCIM_DISABLED,
                    resource_type="Company",
                    data={"company": locked.slug, "scimEnabled": enabled, "actor": actor},
                )
            ],
            origin=Origin(),
            schema_name=locked.schema_name,
        )
    company.scim_enabled = locked.scim_enabled
    company.scim_changed_by = locked.scim_changed_by
    company.scim_changed_at = locked.scim_changed_at
    return True


def company_update_settings(
    *,
    company: Company,
    actor: str,
    name: str | None = None,
    seat_limit: int | None = None,
    clear_seat_limit: bool = False,
    status: str | None = None,
    policies: dict[str, object] | None = None,
    reason: str = "",
) -> list[str]:
    """Change a company's name, seat limit or status, recording each change (with `reason`,
    when given). Returns the names of the fields that changed. Lowering the limit below
    current usage is allowed: nobody is deactivated, the periodic seat check flags the
    company instead (the support admin asks for a confirmation and a reason first).

    Raises ValidationError when suspending without a reason: it refuses the company's
    identity provider and admins, and the history must say why (as for SCIM switched off).
    A change of status is a vendor event (company.suspended / company.reactivated)."""
    new_limit = None if clear_seat_limit else seat_limit
    seat_limit_check(new_limit)
    if status is not None and status not in Company.Status.values:
        raise ValidationError(f'Unknown status "{status}".', code="invalid")
    if name is not None and not name.strip():
        raise ValidationError("A company name is required.", code="required")

    changed: list[str] = []
    with transaction.atomic():
        locked = Company.objects.select_for_update().get(pk=company.pk)
        events: list[CompanyEvent] = []
        if name is not None and name.strip() != locked.name:
            events.append(
                _event(locked, CompanyEvent.Action.RENAMED, actor, locked.name, name.strip())
            )
            locked.name = name.strip()
            changed.append("name")
        if (seat_limit is not None or clear_seat_limit) and new_limit != locked.seat_limit:
            events.append(
                _event(
                    locked,
                    CompanyEvent.Action.SEAT_LIMIT_CHANGED,
                    actor,
                    locked.seat_limit,
                    new_limit,
                )
            )
            locked.seat_limit = new_limit
            changed.append("seat_limit")
        if status is not None and status != locked.status:
            suspending = status == Company.Status.SUSPENDED
            if suspending and not reason.strip():
                raise ValidationError(
                    "Suspending a company needs a reason, kept in the company's history.",
                    code="required",
                )
            events.append(
                _event(locked, CompanyEvent.Action.STATUS_CHANGED, actor, locked.status, status)
            )
            locked.status = status
            changed.append("status")
            emit(
                [
                    NewEvent(
                        type=EventType.COMPANY_SUSPENDED
                        if suspending
                        else EventType.COMPANY_REACTIVATED,
                        resource_type="Company",
                        data={"company": locked.slug, "status": status, "actor": actor},
                    )
                ],
                origin=Origin(),
                schema_name=locked.schema_name,
            )
        for field, value in (policies or {}).items():
            if field not in POLICY_FIELDS:
                raise ValidationError(f"Unknown policy {field!r}.", code="invalid")
            if field == "scim_rate_limit" and value is not None and int(value) < 0:  # type: ignore[call-overload]
                raise ValidationError("A rate limit cannot be negative.", code="invalid")
            if field == "scim_rate_limit" and value is not None and int(value) > INTEGER_MAX:  # type: ignore[call-overload]
                raise ValidationError(
                    f"A rate limit can be at most {INTEGER_MAX:,} requests per minute.",
                    code="invalid",
                )
            if field == "scim_delete_action" and value not in Company.DeleteAction.values:
                raise ValidationError(f"Unknown DELETE action {value!r}.", code="invalid")
            if field in BRAKE_RANGES:
                _check_range(field, value)
            if field == "attribute_allowlist":
                validate_attribute_allowlist(value)
                value = [str(item).strip() for item in value or []]  # type: ignore[attr-defined]
            if value != getattr(locked, field):
                events.append(
                    _event(
                        locked,
                        CompanyEvent.Action.POLICY_CHANGED,
                        actor,
                        getattr(locked, field),
                        value,
                    )
                )
                events[-1].detail["policy"] = field
                setattr(locked, field, value)
                changed.append(field)
        if changed:
            locked.save(update_fields=[*changed, "updated_at"])
            if reason.strip():
                for event in events:
                    event.detail["reason"] = reason.strip()
            CompanyEvent.objects.bulk_create(events)
    for field in changed:
        setattr(company, field, getattr(locked, field))
    return changed


# What the deprovisioning brake's settings may be (directory.brake).
BRAKE_RANGES = {
    "deprovision_brake_percent": (0, 100, "The brake's percent must be 0 (no brake) to 100."),
    "deprovision_brake_minimum": (0, 10**9, "The brake's minimum cannot be negative."),
    "deprovision_brake_window_minutes": (
        1,
        7 * 24 * 60,
        "The brake's window must be 1 minute to 7 days.",
    ),
}


def _check_range(field: str, value: object) -> None:
    low, high, message = BRAKE_RANGES[field]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(message, code="invalid")


def company_event_extend(*, company: Company, action: str, detail: dict[str, object]) -> None:
    """Add `detail` to the company's latest `action` entry: what is known only once the
    change is made (the people a seat-limit raise provisioned). Call in the transaction that
    recorded the entry, holding the company's row lock, so that the latest is that one."""
    event = CompanyEvent.objects.filter(company=company, action=action).order_by("-id").first()
    if event is not None:
        event.detail = {**event.detail, **detail}
        event.save(update_fields=["detail"])


def _event(
    company: Company, action: str, actor: str, before: object, after: object
) -> CompanyEvent:
    return CompanyEvent(
        company=company, action=action, actor=actor, detail={"from": before, "to": after}
    )
