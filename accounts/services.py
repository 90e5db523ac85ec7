"""Writes about people who sign in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessLog
from axes.utils import reset as axes_reset
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import CharField
from django.http import HttpRequest

from accounts.models import User, normalize_email_address
from infra.client_ip import client_ip


def _lengths_check(**values: str) -> None:
    """Raises ValidationError for a value longer than its column (the email validator lets
    through addresses of up to 320 characters; the column holds 254)."""
    for name, value in values.items():
        field = cast(CharField, User._meta.get_field(name))
        limit = field.max_length or 0
        if len(value) > limit:
            label = field.verbose_name
            raise ValidationError(
                f"The {label} can be at most {limit} characters; this one has {len(value)}.",
                code="max_length",
            )


def company_admin_create(*, email: str, password: str, role: str, full_name: str = "") -> User:
    """Create a portal user in the *current* schema (call it inside the company's schema).

    Raises ValidationError for a malformed or taken email, an unknown role, an over-long email or
    full name, or a password the configured validators refuse.
    """
    email = normalize_email_address(email)
    _lengths_check(email=email, full_name=full_name)
    validate_email(email)
    if role not in User.Role.values:
        raise ValidationError(f'Unknown role "{role}".', code="invalid")
    if User.objects.filter(email=email).exists():
        raise ValidationError(f"{email} already has a login here.", code="unique")
    candidate = User(email=email, full_name=full_name, role=role)
    validate_password(password, user=candidate)
    return User.objects.create_user(email=email, password=password, full_name=full_name, role=role)


def company_admin_invite(*, email: str, role: str, full_name: str = "") -> User:
    """Create a portal user with no password yet (they choose one through the invitation's
    one-time link), in the *current* schema. Raises ValidationError as company_admin_create."""
    email = normalize_email_address(email)
    _lengths_check(email=email, full_name=full_name)
    validate_email(email)
    if role not in User.Role.values:
        raise ValidationError(f'Unknown role "{role}".', code="invalid")
    if User.objects.filter(email=email).exists():
        raise ValidationError(f"{email} already has a login here.", code="unique")
    return User.objects.create_user(email=email, password=None, full_name=full_name, role=role)


@dataclass(frozen=True)
class LoginChange:
    """A portal user after a change, and what the role and login state were before it."""

    user: User
    role_before: str
    active_before: bool


def company_admin_update(
    *, user_id: int, role: str | None = None, active: bool | None = None
) -> LoginChange:
    """Change a portal user's role or switch their login off or on, in the *current* schema.
    A company keeps at least one active owner: a change that would leave none is refused
    (ValidationError), under a lock on the owners so two changes cannot each leave one."""
    if role is not None and role not in User.Role.values:
        raise ValidationError(f'Unknown role "{role}".', code="invalid")
    with transaction.atomic():
        owners = list(
            User.objects.select_for_update()
            .filter(role=User.Role.OWNER, is_active=True)
            .values_list("pk", flat=True)
        )
        user = User.objects.select_for_update().get(pk=user_id)
        new_role = role if role is not None else user.role
        new_active = active if active is not None else user.is_active
        stays_owner = new_role == User.Role.OWNER and new_active
        if owners == [user.pk] and not stays_owner:
            raise ValidationError(
                f"{user.email} is the company's only active owner: make someone else an owner "
                "first.",
                code="last_owner",
            )
        before = LoginChange(user=user, role_before=user.role, active_before=user.is_active)
        user.role, user.is_active = new_role, new_active
        user.save(update_fields=["role", "is_active"])
    return before


def sign_in_pauses_clear(*, account: str) -> int:
    """Forget the failed sign-ins counted against `account` (accounts.sign_in.account_key)
    from every address, ending any pause; returns how many counters were dropped. For when
    the person has proved who they are another way (a password reset by email)."""
    return axes_reset(username=account)


def sign_in_address_proved(*, user: User, request: HttpRequest) -> None:
    """Record that `user` proved who they are from this request's address another way (a
    password reset by email): the account-wide sign-in ceiling then treats the address as one
    the account signs in from (accounts.sign_in). Listed with the sign-ins for support (axes'
    access log, which names a sign-in by its email and path), with the path that proved it."""
    AccessLog.objects.create(
        username=user.get_username(),
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
        http_accept=request.META.get("HTTP_ACCEPT", "")[:1025],
        path_info=request.path[:255],
    )


def sign_in_logs_purge(*, older_than_days: int) -> int:
    """Drop the sign-in records (successful sign-ins and failures kept for support) older than
    `older_than_days`; returns how many went. Counters of a running pause are not records:
    they end with their cool-off."""
    return AxesProxyHandler.reset_logs(
        age_days=older_than_days
    ) + AxesProxyHandler.reset_failure_logs(age_days=older_than_days)
