"""The support admin's "Forgotten your login credentials?": Django's password reset by email,
for active support staff only, at /admin/password_reset/. Choosing the new password also ends
the account's sign-in pauses and makes the address one the account is known at, as the
portal's reset does, so a support account under attack gets back in without a colleague."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from accounts.models import User
from accounts.services import sign_in_address_proved, sign_in_pauses_clear
from accounts.sign_in import account_key
from tenants.links import site_origin


class SupportPasswordResetForm(PasswordResetForm):
    """Mails only active staff with a password: the public schema holds nobody else today,
    and the form must not become a way to mail anyone else later."""

    def get_users(self, email: str) -> Iterator[User]:
        return (user for user in super().get_users(email) if user.is_staff)


class _AdminPage:
    """The admin's header and title on the reset's pages (its templates expect them)."""

    request: HttpRequest

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        return {**admin.site.each_context(self.request), **context}


class SupportPasswordResetView(_AdminPage, auth_views.PasswordResetView):
    form_class = SupportPasswordResetForm
    email_template_name = "admin/email/password_reset.txt"
    subject_template_name = "admin/email/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        self.extra_email_context = {"origin": site_origin(self.request)}
        return super().form_valid(form)


class SupportPasswordResetDoneView(_AdminPage, auth_views.PasswordResetDoneView):
    pass


class SupportPasswordResetConfirmView(_AdminPage, auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        sign_in_pauses_clear(account=account_key(self.request, {"username": form.user.email}))
        sign_in_address_proved(user=form.user, request=self.request)
        return response


class SupportPasswordResetCompleteView(_AdminPage, TemplateView):
    # Django's own view links LOGIN_URL, the portal's sign-in, which this site does not have.
    template_name = "registration/password_reset_complete.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_context_data(**kwargs),
            "title": _("Password reset complete"),
            "login_url": reverse("admin:login"),
        }


# Under /admin/ so that the path of a completed reset names the support site for the
# account-wide sign-in ceiling (accounts.sign_in). Named as Django's admin and auth templates
# look them up.
urlpatterns: list[URLPattern] = [
    path(
        "admin/password_reset/",
        SupportPasswordResetView.as_view(),
        name="admin_password_reset",
    ),
    path(
        "admin/password_reset/done/",
        SupportPasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "admin/reset/<uidb64>/<token>/",
        SupportPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "admin/reset/done/",
        SupportPasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
