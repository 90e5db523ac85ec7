"""The OAuth clients' admin as support uses it: tokens.admin's, without "View on site".

django-oauth-toolkit's Application.get_absolute_url names DOT's own management pages
(`oauth2_provider:detail`), which this project does not mount: the link could only fail.
Re-registered here rather than in tokens.admin so the support admin's pages are shaped in one
app; importing tokens.admin first makes its registration the one replaced, whatever order
the admin discovers the apps in."""

from __future__ import annotations

from django.contrib import admin

from tokens.admin import ApplicationWithCompaniesAdmin, application_model


class OAuthClientAdmin(ApplicationWithCompaniesAdmin):
    view_on_site = False


admin.site.unregister(application_model)
admin.site.register(application_model, OAuthClientAdmin)
