"""The "Access rights" screen: SCIM base URL, tokens, Basic credentials, their audit trail.

A generated secret is shown once: the POST that made it keeps it in the session and
redirects, and the next page (this one, or the set-up guide the form was on) takes it out and
shows it with `Cache-Control: no-store` (provisioning_ui/reveal.py). A reload shows nothing
and creates nothing. A rotation's successor is shown the same way, so a reload after
"Rotate" cannot rotate twice.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from provisioning_ui.forms import BasicForm, TokenForm
from provisioning_ui.guides import GUIDE_SLUGS
from provisioning_ui.permissions import actor_label, client_ip, credential_manager_required
from provisioning_ui.reveal import keep_for_reveal, take_reveal
from provisioning_ui.setup import guide_page, keep_refused_token_form
from tenants.gate import scim_gate
from tenants.links import scim_base_url
from tenants.models import Company
from tokens.models import Credential
from tokens.selectors import (
    credential_events_recent,
    credential_get,
    credentials_recent,
    oauth_connections,
)
from tokens.services import (
    CredentialsLocked,
    IssuedCredential,
    RotationRefused,
    basic_issue,
    basic_regenerate,
    credential_revoke,
    token_issue,
    token_rotate,
    token_rotation_confirm,
)

AUDIT_TRAIL_LENGTH = 30


def _company(request: HttpRequest) -> Company:
    return request.tenant  # type: ignore[attr-defined]


def _page(
    request: HttpRequest,
    *,
    token_form: TokenForm | None = None,
    basic_form: BasicForm | None = None,
    status: int = 200,
) -> HttpResponse:
    guide = _from_guide(request)
    if guide is not None and token_form is not None and token_form.errors:
        # Back to the guide's own address, with the form as it was typed and its error.
        keep_refused_token_form(request, token_form)
        return redirect(reverse("setup_guide", args=[guide]) + "#credential-token")
    if guide is not None:
        return guide_page(
            request, guide, token_form=token_form, basic_form=basic_form, status=status
        )
    company = _company(request)
    revealed = take_reveal(request)
    gate = scim_gate(company)
    credentials = credentials_recent()
    context: dict[str, Any] = {
        "company": company,
        "scim_open": gate.open,
        "scim_closed_because": gate.detail,
        "scim_base_url": scim_base_url(request, company),
        "can_manage": request.user.can_manage_credentials,  # type: ignore[union-attr]
        "tokens": [c for c in credentials if c.kind == Credential.Kind.TOKEN],
        "basic": next(
            (c for c in credentials if c.kind == Credential.Kind.BASIC and c.revoked_at is None),
            None,
        ),
        "oauth_connections": oauth_connections(),
        "events": credential_events_recent(AUDIT_TRAIL_LENGTH),
        "token_form": token_form or TokenForm(),
        "basic_form": basic_form or BasicForm(),
        "revealed": revealed,
    }
    response = render(request, "portal/access_rights.html", context, status=status)
    if revealed is not None:
        # The secret must not survive in any cache, nor come back with the Back button.
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True, private=True)
    return response


def _from_guide(request: HttpRequest) -> str | None:
    """The set-up guide a credential form was posted from, if any (a hidden field)."""
    slug = request.POST.get("guide", "") if request.method == "POST" else ""
    return slug if slug in GUIDE_SLUGS else None


def _reveal(request: HttpRequest, issued: IssuedCredential) -> HttpResponse:
    keep_for_reveal(request, issued)
    guide = _from_guide(request)
    if guide is not None:
        return redirect(reverse("setup_guide", args=[guide]) + "#reveal")
    return redirect(reverse("access_rights") + "#reveal")


def _locked(request: HttpRequest, error: CredentialsLocked) -> HttpResponse:
    messages.error(request, str(error))
    return _page(request, status=403)


@require_GET
@login_required
def access_rights(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@credential_manager_required
def token_generate(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, token_form=form, status=400)
    try:
        issued = token_issue(
            company=_company(request),
            name=form.cleaned_data["name"],
            note=form.cleaned_data["note"],
            expires_at=form.expires_at(),
            scope=form.cleaned_data["scope"],
            actor=actor_label(request),
            ip=client_ip(request),
        )
    except CredentialsLocked as error:
        return _locked(request, error)
    except ValidationError as error:
        form.add_error("name", error)
        return _page(request, token_form=form, status=400)
    return _reveal(request, issued)


@require_POST
@credential_manager_required
def basic_generate(request: HttpRequest) -> HttpResponse:
    form = BasicForm(request.POST)
    if not form.is_valid():
        return _page(request, basic_form=form, status=400)
    try:
        issued = basic_issue(
            company=_company(request),
            note=form.cleaned_data["note"],
            actor=actor_label(request),
            ip=client_ip(request),
        )
    except CredentialsLocked as error:
        return _locked(request, error)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _page(request, status=400)
    return _reveal(request, issued)


def _credential_or_404(credential_id: str) -> Credential:
    credential = credential_get(credential_id)
    if credential is None:
        raise Http404("No such credential.")
    return credential


@require_http_methods(["GET", "POST"])
@credential_manager_required
def credential_revoke_view(request: HttpRequest, credential_id: str) -> HttpResponse:
    credential = _credential_or_404(credential_id)
    if request.method == "GET":
        return render(
            request,
            "portal/confirm_credential.html",
            {"credential": credential, "action": "revoke"},
        )
    credential_revoke(
        credential_id=str(credential.pk), actor=actor_label(request), ip=client_ip(request)
    )
    if credential.kind == Credential.Kind.OAUTH:
        messages.success(
            request,
            f"“{credential.name}” disconnected. Its access and refresh tokens no longer work.",
        )
    else:
        messages.success(request, f"{credential.label} revoked. It no longer works.")
    return redirect("access_rights")


@require_http_methods(["GET", "POST"])
@credential_manager_required
def basic_regenerate_view(request: HttpRequest, credential_id: str) -> HttpResponse:
    credential = _credential_or_404(credential_id)
    if credential.kind != Credential.Kind.BASIC or credential.revoked_at is not None:
        raise Http404("No such Basic credentials.")
    if request.method == "GET":
        return render(
            request,
            "portal/confirm_credential.html",
            {
                "credential": credential,
                "action": "regenerate",
                "locked_because": scim_gate(_company(request)).detail,
                # Asked from a set-up guide: the new secret is shown back there.
                "guide": request.GET.get("guide")
                if request.GET.get("guide") in GUIDE_SLUGS
                else "",
            },
        )
    try:
        issued = basic_regenerate(
            company=_company(request),
            credential_id=str(credential.pk),
            actor=actor_label(request),
            ip=client_ip(request),
        )
    except CredentialsLocked as error:
        return _locked(request, error)
    return _reveal(request, issued)


def _token_or_404(credential_id: str) -> Credential:
    credential = _credential_or_404(credential_id)
    if credential.kind != Credential.Kind.TOKEN:
        raise Http404("No such token.")
    return credential


@require_http_methods(["GET", "POST"])
@credential_manager_required
def token_rotate_view(request: HttpRequest, credential_id: str) -> HttpResponse:
    credential = _token_or_404(credential_id)
    if request.method == "GET":
        return render(
            request,
            "portal/confirm_credential.html",
            {
                "credential": credential,
                "action": "rotate",
                "grace_days": _grace_days(),
                # Rotating issues a token, which a shut gate refuses (tokens.services).
                "locked_because": scim_gate(_company(request)).detail,
            },
        )
    try:
        issued = token_rotate(
            company=_company(request),
            credential_id=str(credential.pk),
            actor=actor_label(request),
            ip=client_ip(request),
        )
    except CredentialsLocked as error:
        return _locked(request, error)
    except RotationRefused as error:
        messages.error(request, str(error))
        return redirect("access_rights")
    except Credential.DoesNotExist:
        messages.error(request, f"“{credential.name}” is revoked or expired: it cannot be rotated.")
        return redirect("access_rights")
    keep_for_reveal(request, issued)
    messages.success(
        request,
        f"“{credential.name}” rotated. Put the new token in your identity provider; the old "
        f"one keeps working until you confirm, or for {_grace_days()} days.",
    )
    return redirect("access_rights")


@require_http_methods(["GET", "POST"])
@credential_manager_required
def token_rotation_confirm_view(request: HttpRequest, credential_id: str) -> HttpResponse:
    credential = _token_or_404(credential_id)
    if not credential.is_retiring:
        raise Http404("This token is not being rotated.")
    if request.method == "GET":
        return render(
            request,
            "portal/confirm_credential.html",
            {"credential": credential, "action": "confirm_rotation"},
        )
    token_rotation_confirm(
        credential_id=str(credential.pk), actor=actor_label(request), ip=client_ip(request)
    )
    messages.success(
        request, f"Rotation of “{credential.name}” confirmed: the old token no longer works."
    )
    return redirect("access_rights")


def _grace_days() -> int:
    return int(settings.TOKEN_ROTATION_GRACE_DAYS)
