"""/t/<slug>/oauth/…: the company's OAuth 2.0 authorization server. A trailing slash is
optional: identity providers are configured by hand, and a 404 for a slash is a poor error."""

from django.urls import re_path

from provisioning_ui import oauth

urlpatterns = [
    re_path(r"^authorize/?$", oauth.AuthorizeView.as_view(), name="oauth_authorize"),
    re_path(r"^token/?$", oauth.TokenView.as_view(), name="oauth_token"),
    re_path(r"^revoke/?$", oauth.RevokeView.as_view(), name="oauth_revoke"),
    re_path(r"^\.well-known/oauth-authorization-server/?$", oauth.metadata, name="oauth_metadata"),
]
