"""URLs of one company, served under `/t/<slug>/` (django-tenants adds the prefix)."""

from django.conf import settings
from django.urls import include, path

urlpatterns = [
    path("scim/v2", include("scim.urls")),
    path("oauth/", include("provisioning_ui.oauth_urls")),
    path("", include("provisioning_ui.urls")),
]

if "bench" in settings.INSTALLED_APPS:
    # First: scim/urls.py ends with a catch-all for unknown SCIM endpoints.
    urlpatterns.insert(0, path("scim/v2", include("bench.urls")))

# A database outage is a 503 to retry, not a 500 (config/errors.py).
handler500 = "config.errors.server_error"
