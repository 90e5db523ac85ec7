"""URLs of one company, served under `/t/<slug>/` (django-tenants adds the prefix)."""

from django.urls import include, path

urlpatterns = [
    path("scim/v2", include("scim.urls")),
    path("oauth/", include("provisioning_ui.oauth_urls")),
    path("", include("provisioning_ui.urls")),
]
