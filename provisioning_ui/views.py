"""Company-admin portal pages. Thin: read the company from the request, render."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.services import sign_in_address_proved, sign_in_pauses_clear
from accounts.sign_in import account_key
from directory.seat_check import seat_level
from provisioning_ui.connection import connection_status
from provisioning_ui.connection_test import Scorecard, connection_test
from provisioning_ui.lifecycle import lifecycle_context
from provisioning_ui.permissions import credential_manager_required
from tenants.gate import scim_gate
from tenants.links import scim_base_url, site_origin
from tenants.rate_limits import limits_for


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    company = request.tenant  # type: ignore[attr-defined]
    gate = scim_gate(company)
    return render(
        request,
        "portal/dashboard.html",
        {
            "company": company,
            # From the company row as routed for this request, not the hourly check's level.
            "seats": seat_level(company.seats_used, company.seat_limit),
            "connection": connection_status(company, gate),
            "scim_open": gate.open,
            "scim_closed_because": gate.detail,
            "scim_base_url": scim_base_url(request, company),
            "rate_limits": limits_for(company),
            **lifecycle_context(request, company),
        },
    )


# The latest scorecard of this session, shown by the GET after the POST that ran it.
SCORECARD_KEY = "hc_connection_test"


@require_http_methods(["GET", "POST"])
@credential_manager_required
def test_connection(request: HttpRequest) -> HttpResponse:
    """Replay an identity provider's connection test against this company's SCIM API
    (provisioning_ui/connection_test.py; changes no data). A POST runs it and redirects, so
    a reload of the scorecard does not send the form again; a GET shows the latest scorecard
    of this session, or the button that runs it (a bookmark, a new tab)."""
    company = request.tenant  # type: ignore[attr-defined]
    if request.method == "POST":
        request.session[SCORECARD_KEY] = connection_test(request, company).as_json()
        return redirect("test_connection")
    try:
        scorecard: Scorecard | None = Scorecard.from_json(request.session[SCORECARD_KEY])
    except (KeyError, TypeError, ValueError):
        scorecard = None
    return render(
        request,
        "portal/connection_test.html",
        {
            "company": company,
            "scorecard": scorecard,
            "scim_base_url": scim_base_url(request, company),
        },
    )


class CompanyPasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, with the company's name in the email and its link on the site's
    public origin (PUBLIC_BASE_URL when set, not a Host header)."""

    template_name = "portal/password_reset.html"
    email_template_name = "portal/email/password_reset.txt"
    subject_template_name = "portal/email/password_reset_subject.txt"

    def form_valid(self, form: Any) -> HttpResponse:
        self.extra_email_context = {
            "company_name": self.request.tenant.name,  # type: ignore[attr-defined]
            "origin": site_origin(self.request),
        }
        return super().form_valid(form)


class CompanyPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's "choose a new password"; the new password also ends any sign-in pause of the
    account (the person proved they read its mailbox), from every address, and this address
    is then one the account signs in from for its account-wide ceiling."""

    template_name = "portal/password_reset_confirm.html"

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        sign_in_pauses_clear(account=account_key(self.request, {"username": form.user.email}))
        sign_in_address_proved(user=form.user, request=self.request)
        return response
