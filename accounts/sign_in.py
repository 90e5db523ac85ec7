"""Sign-in throttling for the portal and the support admin, built on django-axes.

axes counts failed sign-ins per (account, client address) in `public`, for every site at
once (config/settings.py, "Sign-in throttling"). Two things are ours:

- which account a sign-in is for: a company admin's email exists once per company schema,
  so the same email at two companies is two accounts. The key is `<company slug>:<email>`
  for a portal, `admin:<email>` for the support admin (`admin` is a reserved slug, and a
  slug never holds `:`, so keys cannot collide);
- what a paused person sees: a 429 page (the portal's, or the admin's own login form) that
  says how long to wait, with `Retry-After`;
- a ceiling per account from every address at once (`AccountCeilingBackend`): guesses
  spread over many addresses get the pair's limit at each, so past
  SIGN_IN_ACCOUNT_FAILURE_LIMIT failures within the cool-off the account is paused too,
  but only for addresses it has never been signed in from (or had its password reset
  from): the owner at a usual address keeps signing in, whoever attacks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts.models import normalize_email_address

SUPPORT_SITE = "admin"
# axes stores the key in a 255-character column; a longer one (a slug and a very long
# email) is cut rather than refused, and still names one account in practice.
KEY_MAX_LENGTH = 255


def site_of(request: HttpRequest | None) -> str:
    """The company slug a sign-in happens at, or `admin` for the support site."""
    tenant = getattr(request, "tenant", None)
    schema = getattr(tenant, "schema_name", settings.PUBLIC_SCHEMA_NAME)
    if schema == settings.PUBLIC_SCHEMA_NAME:
        return SUPPORT_SITE
    return str(tenant.slug)  # type: ignore[union-attr]


def account_key(request: HttpRequest | None, credentials: Mapping[str, Any] | None) -> str:
    """axes' AXES_USERNAME_CALLABLE: `<site>:<email>` for the account a sign-in names."""
    raw = (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD)
    if raw is None and request is not None:
        raw = request.POST.get(settings.AXES_USERNAME_FORM_FIELD)
    # NUL cannot be stored in a PostgreSQL text column; it is no part of an email anyway.
    email = normalize_email_address(str(raw or "")).replace("\x00", "")
    return f"{site_of(request)}:{email}"[:KEY_MAX_LENGTH]


def _site_paths(request: HttpRequest) -> str:
    """The start of every path of the request's site: a company's portal or the admin."""
    if site_of(request) == SUPPORT_SITE:
        return reverse("admin:index")
    return str(request.tenant.portal_path)  # type: ignore[attr-defined]


def _known_address(request: HttpRequest, account: str, address: str | None) -> bool:
    """Whether `account` was signed in from `address` (or had its password reset there),
    within the sign-in records' retention. axes records a sign-in under the bare email and
    the path it was made at, which names the site (`_site_paths`)."""
    return AccessLog.objects.filter(
        username=account.partition(":")[2],
        ip_address=address,
        path_info__startswith=_site_paths(request),
    ).exists()


def _ceiling_remaining(
    request: HttpRequest, account: str, address: str | None, now: datetime
) -> timedelta | None:
    """How long `account` stays paused at `address` by its ceiling, None when it is not:
    below SIGN_IN_ACCOUNT_FAILURE_LIMIT failures within the cool-off, from every address, or
    an address the account is known at (`_known_address`). The pause ends when the oldest
    failure that keeps the count at the limit leaves the window."""
    limit = settings.SIGN_IN_ACCOUNT_FAILURE_LIMIT
    if limit <= 0 or not settings.AXES_ENABLED:
        return None
    window = get_cool_off(request) or timedelta(0)
    # The limit-th newest failure within the window (index sign_in_failures_by_account).
    recent = (
        AccessFailureLog.objects.filter(username=account, attempt_time__gte=now - window)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)[limit - 1 : limit]
    )
    oldest_counted = next(iter(recent), None)
    if oldest_counted is None:
        return None
    if _known_address(request, account, address):
        return None
    return max(oldest_counted + window - now, timedelta(seconds=1))


class AccountCeilingBackend:
    """An authentication backend that authenticates nobody: placed after axes' own (which
    refuses a paused pair) and before the one that checks the password, it refuses a sign-in
    to an account over its ceiling (`_ceiling_remaining`) before the password is tried. The
    refusal takes axes' way out: axes does not count it (so the pause ends on time) and its
    middleware answers with `paused_response`."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return
        account = account_key(request, {settings.AXES_USERNAME_FORM_FIELD: username})
        address = getattr(request, "axes_ip_address", None)
        remaining = _ceiling_remaining(request, account, address, timezone.now())
        if remaining is None:
            return
        request.account_ceiling_remaining = remaining  # type: ignore[attr-defined]
        request.axes_locked_out = True  # type: ignore[attr-defined]
        raise PermissionDenied("Too many failed sign-ins for this account from many addresses.")


def pause_remaining(request: HttpRequest, credentials: Mapping[str, Any] | None) -> timedelta:
    """How long the account named in `credentials` stays paused for this request's address."""
    ceiling = getattr(request, "account_ceiling_remaining", None)
    if ceiling is not None:
        return ceiling
    cool_off = get_cool_off(request) or timedelta(0)
    now = timezone.now()
    last = AccessAttempt.objects.filter(
        username=account_key(request, credentials),
        ip_address=getattr(request, "axes_ip_address", None),
        attempt_time__gte=now - cool_off,
    ).aggregate(last=Max("attempt_time"))["last"]
    if last is None:
        return cool_off
    return max(last + cool_off - now, timedelta(0))


def paused_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """axes' AXES_LOCKOUT_CALLABLE: 429 with a page saying whose sign-in is paused and for how
    long, and `Retry-After` in seconds. The support admin gets its login form back."""
    seconds = max(math.ceil(pause_remaining(request, credentials).total_seconds()), 1)
    context: dict[str, Any] = {
        "email": account_key(request, credentials).partition(":")[2],
        "minutes": math.ceil(seconds / 60),
        "account_wide": getattr(request, "account_ceiling_remaining", None) is not None,
    }
    if site_of(request) == SUPPORT_SITE:
        context.update(
            admin.site.each_context(request),
            title="Log in",
            app_path=request.get_full_path(),
            form=AdminAuthenticationForm(request, initial={"username": context["email"]}),
        )
        context[REDIRECT_FIELD_NAME] = request.POST.get(REDIRECT_FIELD_NAME) or reverse(
            "admin:index"
        )
        response = render(request, "admin/sign_in_paused.html", context, status=429)
    else:
        response = render(request, "portal/sign_in_paused.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
