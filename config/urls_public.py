"""URLs of the public site: support staff's admin, the health checks, a landing page."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import TemplateView

from provisioning_ui.oauth import metadata_rfc8414
from support_admin.password_reset import urlpatterns as support_password_reset
from support_admin.view_on_site import urlpatterns as support_view_on_site
from tenants.health import healthz, healthz_detail, livez

admin.site.site_header = "Headcount support"
admin.site.site_title = "Headcount support"
admin.site.index_title = "Companies and support staff"


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    # Browsers and crawlers ask for /favicon.ico whatever the page links; the file is static.
    return HttpResponseRedirect(static("favicon.ico"))


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("", TemplateView.as_view(template_name="public/home.html"), name="home"),
    path("livez", livez, name="livez"),
    path("healthz", healthz, name="healthz"),
    path("healthz/detail", healthz_detail, name="healthz_detail"),
    # Before the admin's own, whose last pattern would take any path under /admin/.
    *support_password_reset,
    *support_view_on_site,
    path("admin/", admin.site.urls),
    # The vendor's backend: events and directories of every company (vendor API keys).
    path("api/v1/", include("vendor_api.urls")),
    # RFC 8414 §3.1: metadata of the issuer https://host/t/<slug>/oauth.
    re_path(
        r"^\.well-known/oauth-authorization-server/t/(?P<slug>[a-z0-9-]+)/oauth/?$",
        metadata_rfc8414,
        name="oauth_metadata_rfc8414",
    ),
]

# A database outage is a 503 to retry, not a 500 (config/errors.py).
handler500 = "config.errors.server_error"
