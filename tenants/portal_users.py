"""Support's side of a company's portal logins: invite someone by email (a login with no
password and a one-time link to choose one), add one with a password, change a role, switch a
login off or on. The writes are accounts.services', run in the company's schema; this module
adds the schema, the invitation email and the company's history (a CompanyEvent per change,
in the change's transaction, naming the login and who acted)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.services import company_admin_create, company_admin_invite, company_admin_update
from tenants.models import Company, CompanyEvent


@dataclass(frozen=True)
class PortalLogin:
    id: int
    email: str
    full_name: str
    role: str
    role_label: str
    active: bool
    invited: bool  # no password chosen yet
    last_login: str


def portal_logins(company: Company) -> list[PortalLogin]:
    """The company's portal logins by email (one query in its schema)."""
    with schema_context(company.schema_name):
        return [
            PortalLogin(
                id=user.pk,
                email=user.email,
                full_name=user.full_name,
                role=user.role,
                role_label=user.get_role_display(),
                active=user.is_active,
                invited=not user.has_usable_password(),
                last_login=f"{user.last_login:%Y-%m-%d %H:%M} UTC" if user.last_login else "",
            )
            for user in User.objects.order_by("email")
        ]


def _recorded(company: Company, action: str, actor: str, user: User, **detail: object) -> None:
    CompanyEvent.objects.create(
        company=company, action=action, actor=actor, detail={"email": user.email, **detail}
    )


def portal_login_add(
    *, company: Company, email: str, password: str, role: str, actor: str, full_name: str = ""
) -> User:
    """Create a login with a password in `company` (`manage.py portal_user_add`). Raises
    ValidationError as accounts.services.company_admin_create."""
    with schema_context(company.schema_name), transaction.atomic():
        user = company_admin_create(email=email, password=password, role=role, full_name=full_name)
        _recorded(company, CompanyEvent.Action.LOGIN_ADDED, actor, user, role=user.role)
    return user


def portal_login_invite(*, company: Company, email: str, role: str, origin: str, actor: str) -> str:
    """Create a login for `email` in `company` and email them a link to choose a password;
    returns the normalised address. The link is Django's password-reset link: it works once
    (choosing a password changes what its token signs) and expires after
    PASSWORD_RESET_TIMEOUT. `origin` is the site's scheme and host (PUBLIC_BASE_URL wins).
    Raises ValidationError for a malformed or taken address or an unknown role."""
    with schema_context(company.schema_name):
        with transaction.atomic():
            user = company_admin_invite(email=email, role=role)
            _recorded(company, CompanyEvent.Action.LOGIN_INVITED, actor, user, role=user.role)
        # The company URLconf's path, under the company's own prefix (reverse() outside a
        # company's request has no /t/<slug>).
        page = reverse(
            "password_reset_confirm",
            urlconf=settings.ROOT_URLCONF,
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
        link = (settings.PUBLIC_BASE_URL or origin) + company.portal_path.rstrip("/") + page
        context = {
            "company_name": company.name,
            "email": user.email,
            "role": user.get_role_display(),
            "link": link,
            "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        }
        send_mail(
            subject=f"You are invited to {company.name} on Headcount",
            message=render_to_string("portal/email/invitation.txt", context),
            from_email=None,
            recipient_list=[user.email],
        )
    return user.email


def portal_login_update(
    *,
    company: Company,
    user_id: int,
    actor: str,
    role: str | None = None,
    active: bool | None = None,
) -> User:
    """Change a login's role or switch it off/on in `company` (accounts.services rules: the
    last active owner stays). A change that changes nothing is not recorded. Raises
    ValidationError, or User.DoesNotExist."""
    with schema_context(company.schema_name), transaction.atomic():
        change = company_admin_update(user_id=user_id, role=role, active=active)
        user = change.user
        if user.role != change.role_before:
            _recorded(
                company,
                CompanyEvent.Action.LOGIN_ROLE_CHANGED,
                actor,
                user,
                old=change.role_before,
                new=user.role,
            )
        if user.is_active != change.active_before:
            action = (
                CompanyEvent.Action.LOGIN_SWITCHED_ON
                if user.is_active
                else CompanyEvent.Action.LOGIN_SWITCHED_OFF
            )
            _recorded(company, action, actor, user)
    return user
