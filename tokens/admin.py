"""Support admin for OAuth: only DOT's Application (the identity providers' OAuth clients,
registered once and shared by every company) is managed here. DOT's own grant and token
tables stay empty — codes and tokens live hashed in each company's schema (tokens.oauth) — so
their admin pages would only mislead."""

from django.contrib import admin
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


@admin.register(application_model)
class ApplicationWithCompaniesAdmin(ApplicationAdmin):
    inlines = [CompaniesInline]
