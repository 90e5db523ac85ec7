"""SCIM 2.0 endpoints, mounted at `/t/<slug>/scim/v2`. Patterns carry no trailing-slash
redirects: Okta POSTs to `/Users` exactly."""

from django.urls import re_path

from scim.views_base import UnknownEndpointView
from scim.views_discovery import ServiceProviderConfigView

urlpatterns = [
    re_path(r"^/ServiceProviderConfig/?$", ServiceProviderConfigView.as_view(), name="scim-spc"),
    re_path(r"^(?:/.*)?$", UnknownEndpointView.as_view(), name="scim-unknown"),
]
