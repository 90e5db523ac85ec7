"""OAuth 2.0 endpoints of one company, under /t/<slug>/oauth/: the consent screen
(authorize), the token and revocation endpoints, and the RFC 8414 metadata document.

The protocol is django-oauth-toolkit's and oauthlib's (OAuthLibMixin); storage is ours
(tokens.oauth). These views only decide what a person sees: who may approve, what the
consent screen says, and that a bad client or redirect URI gets an error page, never a
redirect (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.forms import AllowForm
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from infra.security_headers import policy_with_form_target
from tenants.gate import scim_gate
from tenants.models import Company
from tenants.selectors import company_for_slug
from tokens.oauth import client_serves
from tokens.selectors import oauth_client

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def _company(request: HttpRequest) -> Company:
    return request.tenant  # type: ignore[attr-defined]


def _refusal(request: HttpRequest, company: Company) -> str | None:
    """Why this person cannot approve a connection for this company now, or None."""
    if not scim_gate(company).open:
        return (
            f"SCIM provisioning is not active for {company.name}. "
            "Contact support to activate it, then connect again."
        )
    if not request.user.can_manage_credentials:  # type: ignore[union-attr]
        return (
            f"Only owners and admins of {company.name} can approve connections. "
            "Ask one of them to connect the identity provider."
        )
    return None


def _unknown_client(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "portal/oauth_error.html",
        {"error": "invalid_request", "description": "Unknown client or redirect URI."},
        status=400,
    )


def _error_page(request: HttpRequest, error: OAuthToolkitError) -> HttpResponse:
    oauthlib_error = error.oauthlib_error
    return render(
        request,
        "portal/oauth_error.html",
        {"error": oauthlib_error.error, "description": oauthlib_error.description},
        status=400,
    )


@method_decorator(never_cache, name="dispatch")
class AuthorizeView(LoginRequiredMixin, OAuthLibMixin, View):
    """GET: validate the request, show the consent screen. POST: Approve or Deny."""

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except FatalClientError as error:
            return _error_page(request, error)
        except OAuthToolkitError as error:
            # The client and redirect URI are known good: report the error to the client.
            return self._redirect_error(error)
        problem = _pkce_problem(
            credentials.get("code_challenge"), credentials.get("code_challenge_method")
        )
        if problem:
            return self._redirect_error(_invalid_request(problem, credentials))
        application = oauth_client(credentials["client_id"])
        if application is None:  # deleted by support since oauthlib validated it
            return _unknown_client(request)
        company = _company(request)
        refusal = _refusal(request, company)
        form = AllowForm(
            initial={
                "redirect_uri": credentials["redirect_uri"],
                "scope": " ".join(scopes),
                "client_id": credentials["client_id"],
                "state": credentials.get("state"),
                "response_type": credentials["response_type"],
                "code_challenge": credentials.get("code_challenge"),
                "code_challenge_method": credentials.get("code_challenge_method"),
            }
        )
        all_scopes: dict[str, str] = settings.OAUTH2_PROVIDER["SCOPES"]
        response = render(
            request,
            "portal/oauth_authorize.html",
            {
                "application": application,
                "company": company,
                "form": form,
                "scope_descriptions": [all_scopes.get(scope, scope) for scope in scopes],
                "refusal": refusal,
                "redirect_host": urlsplit(credentials["redirect_uri"]).netloc,
            },
            status=403 if refusal else 200,
        )
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(credentials["redirect_uri"]))
        if _ORIGIN.match(origin):
            response["Content-Security-Policy"] = policy_with_form_target(origin)
        return response

    def post(self, request: HttpRequest) -> HttpResponse:
        form = AllowForm(request.POST)
        if not form.is_valid():
            return render(
                request,
                "portal/oauth_error.html",
                {"error": "invalid_request", "description": "The consent form was incomplete."},
                status=400,
            )
        data = form.cleaned_data
        application = oauth_client(data["client_id"])
        if (
            application is None
            or not client_serves(application, _company(request))
            or not application.redirect_uri_allowed(data["redirect_uri"])
        ):
            # Even a "Deny" must never send the browser to a URI the client did not register.
            return _unknown_client(request)
        credentials: dict[str, Any] = {
            "client_id": data["client_id"],
            "redirect_uri": data["redirect_uri"],
            "response_type": data.get("response_type") or None,
            "state": data.get("state") or None,
        }
        for optional in ("code_challenge", "code_challenge_method"):
            if data.get(optional):
                credentials[optional] = data[optional]
        allow = bool(data.get("allow"))
        refusal = _refusal(request, _company(request))
        problem = _pkce_problem(data.get("code_challenge"), data.get("code_challenge_method"))
        try:
            if problem:
                raise _invalid_request(problem, credentials)
            if allow and refusal:
                raise OAuthToolkitError(
                    error=oauth_errors.AccessDeniedError(
                        description=refusal, state=credentials["state"]
                    ),
                    redirect_uri=credentials["redirect_uri"],
                )
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=data["scope"], credentials=credentials, allow=allow
            )
        except FatalClientError as error:
            return _error_page(request, error)
        except OAuthToolkitError as error:
            return self._redirect_error(error, application)
        return OAuth2ResponseRedirect(self._with_issuer(uri), application.get_allowed_schemes())

    def _redirect_error(self, error: OAuthToolkitError, application: Any = None) -> HttpResponse:
        _redirect, response = self.error_response(error)
        schemes = (
            application.get_allowed_schemes()
            if application is not None
            else settings.OAUTH2_PROVIDER.get("ALLOWED_REDIRECT_URI_SCHEMES", ["http", "https"])
        )
        return OAuth2ResponseRedirect(self._with_issuer(response["url"]), schemes)

    def _with_issuer(self, uri: str) -> str:
        """RFC 9207: every authorization response names its issuer, this company's
        `https://host/t/<slug>/oauth` as the metadata says, so a client talking to several
        companies (or servers) can tell whose response it got. DOT's own `iss` would name
        the host only, the same for every company."""
        parts = urlsplit(uri)
        query = [
            pair for pair in parse_qsl(parts.query, keep_blank_values=True) if pair[0] != "iss"
        ]
        query.append(("iss", oauth_base_url(self.request, _company(self.request))))
        return urlunsplit(parts._replace(query=urlencode(query)))


# RFC 7636 §4.1-4.2: 43 to 128 unreserved characters; only S256 (RFC 9700 §2.1.1: "plain"
# protects nothing once the authorization request leaks).
_CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def _pkce_problem(challenge: str | None, method: str | None) -> str | None:
    if not challenge:
        return "code_challenge_method without a code_challenge." if method else None
    if method != "S256":
        return "PKCE: send code_challenge_method=S256 (plain is not accepted)."
    if not _CODE_CHALLENGE.match(challenge):
        return "PKCE: code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~."
    return None


def _invalid_request(description: str, credentials: dict[str, Any]) -> OAuthToolkitError:
    return OAuthToolkitError(
        error=oauth_errors.InvalidRequestError(
            description=description, state=credentials.get("state")
        ),
        redirect_uri=credentials["redirect_uri"],
    )


def _oauthlib_response(body: str | None, headers: dict[str, str], status: int) -> HttpResponse:
    response = HttpResponse(body or "", status=status, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    return response


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters("client_secret", "code", "refresh_token"), "dispatch")
class TokenView(OAuthLibMixin, View):
    """RFC 6749 §3.2: code and refresh token exchange. Errors are §5.2 JSON bodies."""

    def post(self, request: HttpRequest) -> HttpResponse:
        _url, headers, body, status = self.create_token_response(request)
        return _oauthlib_response(body, headers, status)


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters("client_secret", "token"), "dispatch")
class RevokeView(OAuthLibMixin, View):
    """RFC 7009 revocation: 200 for any token the client presents, known or not."""

    def post(self, request: HttpRequest) -> HttpResponse:
        _url, headers, body, status = self.create_revocation_response(request)
        return _oauthlib_response(body, headers, status)


def oauth_base_url(request: HttpRequest, company: Company) -> str:
    """Absolute URL of the company's OAuth endpoints (the issuer), without a trailing slash."""
    path = f"{company.portal_path}oauth"
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + path
    return request.build_absolute_uri(path)


def authorization_server_metadata(issuer: str) -> dict[str, Any]:
    """RFC 8414 §2 metadata for the issuer `https://host/t/<slug>/oauth`."""
    auth_methods = ["client_secret_basic", "client_secret_post"]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "revocation_endpoint": f"{issuer}/revoke",
        "scopes_supported": list(settings.OAUTH2_PROVIDER["SCOPES"]),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
    }


def metadata(request: HttpRequest) -> JsonResponse:
    """The metadata document at /t/<slug>/oauth/.well-known/oauth-authorization-server."""
    return JsonResponse(authorization_server_metadata(oauth_base_url(request, _company(request))))


def metadata_rfc8414(request: HttpRequest, slug: str) -> JsonResponse:
    """The same document where RFC 8414 §3.1 puts it for an issuer with a path:
    /.well-known/oauth-authorization-server/t/<slug>/oauth (served by the public site)."""
    company = company_for_slug(slug)
    if company is None:
        raise Http404("No company is served at this URL.")
    return JsonResponse(authorization_server_metadata(oauth_base_url(request, company)))
