"""Support admin for OAuth: only DOT's Application (the identity providers' OAuth clients,
registered once and shared by every company) is managed here. DOT's own grant and token
tables stay empty — codes and tokens live hashed in each company's schema (tokens.oauth) — so
their admin pages would only mislead."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.safestring import mark_safe
from oauth2_provider.admin import ApplicationAdmin
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from tenants.models import OAuthClientCompany

for model in (
    get_access_token_model(),
    get_refresh_token_model(),
    get_grant_model(),
    get_id_token_model(),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class CompaniesInline(admin.TabularInline):
    """Which companies may use the client: none listed means every company."""

    model = OAuthClientCompany
    extra = 0
    autocomplete_fields = ("company",)


application_model = get_application_model()
if admin.site.is_registered(application_model):
    admin.site.unregister(application_model)


# Okta's callback for SCIM OAuth on each of its public cells (docs/operations.md, "OAuth
# clients"). Okta also lists http://system-admin.okta1.com:1802/…, its internal test cell:
# plain http is refused outside development (OAUTH_ALLOW_HTTP_REDIRECTS), so it is not here.
OKTA_REDIRECT_URIS = (
    "https://system-admin.okta.com/admin/app/cpc/{app}/oauth/callback",
    "https://system-admin.okta-emea.com/admin/app/cpc/{app}/oauth/callback",
    "https://system-admin.oktapreview.com/admin/app/cpc/{app}/oauth/callback",
    "https://system-admin.trexcloud.com/admin/app/cpc/{app}/oauth/callback",
)


class OktaClientForm(forms.ModelForm):
    """Registering Okta's OAuth client: a name, Okta's app name and the generated id and
    secret; the rest is what Okta needs (confidential, authorization code, Okta's callbacks
    with the app name, hashed secret, consent always asked)."""

    okta_app_name = forms.RegexField(
        label="Okta app name",
        regex=r"^[A-Za-z0-9_.-]{1,100}$",
        help_text="The {appName} in Okta's callback URL (the integration's app name, e.g. "
        "headcount). Okta's callback URLs are registered with it.",
    )

    class Meta:
        model = application_model
        fields = ("name", "client_id", "client_secret")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        app = data.get("okta_app_name")
        if app:
            # Set before the model's own clean() checks the redirect URIs against the grant.
            client = self.instance
            client.client_type = application_model.CLIENT_CONFIDENTIAL
            client.authorization_grant_type = application_model.GRANT_AUTHORIZATION_CODE
            client.redirect_uris = "\n".join(uri.format(app=app) for uri in OKTA_REDIRECT_URIS)
            client.hash_client_secret = True
            client.skip_authorization = False
        return data


@admin.register(application_model)
class ApplicationWithCompaniesAdmin(ApplicationAdmin):
    """Adding a client starts from the Okta preset; `?preset=custom` shows every option of
    django-oauth-toolkit's form (another identity provider, or a client to edit later)."""

    inlines = [CompaniesInline]
    okta_fields = ("name", "okta_app_name", "client_id", "client_secret")

    @staticmethod
    def _okta_preset(request: HttpRequest, obj: Any) -> bool:
        return obj is None and request.GET.get("preset") != "custom"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if self._okta_preset(request, obj):
            return self.okta_fields
        return super().get_fields(request, obj)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if not self._okta_preset(request, obj):
            return super().get_form(request, obj, change=change, **kwargs)
        kwargs["form"] = OktaClientForm
        kwargs["fields"] = self.okta_fields
        form = super().get_form(request, obj, change=change, **kwargs)
        form.base_fields["name"].initial = "Okta"
        form.base_fields["client_secret"].help_text = mark_safe(
            "<strong>Copy it now</strong>: it is hashed when you save and cannot be shown "
            "again. Give it and the client id to the identity provider. "
            '<a href="?preset=custom">Another kind of client: every option</a>'
        )
        return form
