"""Support admin for OAuth: only DOT's Application (the identity providers' OAuth clients,
registered once and shared by every company) is managed here. DOT's own grant and token
tables stay empty — codes and tokens live hashed in each company's schema (tokens.oauth) — so
their admin pages would only mislead."""

from django.contrib import admin
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

for model in (
    get_access_token_model(),
    get_refresh_token_model(),
    get_grant_model(),
    get_id_token_model(),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
