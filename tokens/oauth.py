"""OAuth 2.0 authorization server glue: django-oauth-toolkit's validator, pointed at our storage.

DOT and oauthlib do the protocol (parameter checks, client authentication, PKCE, error
codes). Where DOT would read or write its own Grant/AccessToken/RefreshToken tables (in
`public`, with plaintext tokens), this validator reads and writes OAuthGrant and OAuthToken in
the schema of the company named in the URL, storing only SHA-256 digests. A code or refresh
token issued at /t/acme/ therefore does not exist at /t/other/: the lookup fails and oauthlib
answers `invalid_grant`.

Only the authorization code grant (and refreshing what it issued) is served; see
OAUTH2_SERVER_CLASS in the settings.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import AbstractApplication
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth2.rfc6749 import errors

from infra.client_ip import client_ip_from_meta
from tenants.gate import scim_gate
from tenants.models import Company, OAuthClientCompany
from tokens import secrets, selectors, services
from tokens.models import OAuthGrant, OAuthToken


def generate_access_token(request: OAuthRequest, refresh_token: bool = False) -> str:
    return secrets.generate_secret(secrets.OAUTH_ACCESS_PREFIX)


def generate_refresh_token(request: OAuthRequest, refresh_token: bool = True) -> str:
    return secrets.generate_secret(secrets.OAUTH_REFRESH_PREFIX)


def current_company() -> Company:
    """The company whose schema this request runs in. The OAuth endpoints exist only under
    /t/<slug>/, so anything else is a routing bug, and we refuse rather than guess."""
    tenant = getattr(connection, "tenant", None)
    if not isinstance(tenant, Company) or tenant.schema_name in (
        settings.PUBLIC_SCHEMA_NAME,
        settings.TENANT_BASE_SCHEMA,
    ):
        raise errors.ServerError(description="No company is served at this URL.")
    return tenant


def _client_ip(request: OAuthRequest) -> str | None:
    # DOT hands oauthlib Django's META as the request headers.
    return client_ip_from_meta(request.headers)


def client_serves(application: Any, company: Company) -> bool:
    """Whether support left the client open to every company or reserved it for this one
    (tenants.OAuthClientCompany)."""
    reserved = OAuthClientCompany.objects.filter(application=application)
    return not reserved.exists() or reserved.filter(company=company).exists()


class CompanyOAuth2Validator(OAuth2Validator):
    def _load_application(self, client_id: str, request: OAuthRequest) -> Any:
        # Every path that names a client (authorize, token, revoke) loads it here: a client
        # reserved for other companies is unknown at this one (invalid_client).
        application = super()._load_application(client_id, request)
        if application is not None and not client_serves(application, current_company()):
            request.client = None
            return None
        return application

    # --- Which grants and response types exist --------------------------------------------

    def validate_response_type(
        self, client_id: str, response_type: str, client: Any, request: OAuthRequest, *args: Any
    ) -> bool:
        return response_type == "code" and bool(
            client.allows_grant_type(AbstractApplication.GRANT_AUTHORIZATION_CODE)
        )

    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Any, request: OAuthRequest, *args: Any
    ) -> bool:
        if grant_type not in ("authorization_code", "refresh_token"):
            return False
        return bool(client.allows_grant_type(AbstractApplication.GRANT_AUTHORIZATION_CODE))

    def is_pkce_required(self, client_id: str, request: OAuthRequest) -> bool:
        # Confidential clients (Okta, with a secret) may use PKCE; public clients must.
        client = getattr(request, "client", None)
        return client is None or client.client_type != AbstractApplication.CLIENT_CONFIDENTIAL

    def validate_user(self, *args: Any, **kwargs: Any) -> bool:
        return False

    def validate_bearer_token(self, token: str, scopes: Any, request: OAuthRequest) -> bool:
        # SCIM requests are authenticated by scim.authentication, not by DOT.
        return False

    # --- Authorization codes ----------------------------------------------------------------

    def save_authorization_code(
        self, client_id: str, code: dict[str, str], request: OAuthRequest, *args: Any, **kw: Any
    ) -> None:
        user = request.user
        try:
            services.oauth_grant_create(
                company=current_company(),
                code=code["code"],
                client_id=client_id,
                client_name=request.client.name,
                redirect_uri=request.redirect_uri,
                # Each scope once: a request may repeat them ("scim scim …").
                scope=" ".join(dict.fromkeys(request.scopes)),
                code_challenge=getattr(request, "code_challenge", None) or "",
                code_challenge_method=getattr(request, "code_challenge_method", None) or "",
                approver=user,
                ip=_client_ip(request),
            )
        except services.ConsentRefused as refused:
            raise errors.AccessDeniedError(description=str(refused), request=request) from None

    def _grant(self, code: str, request: OAuthRequest) -> OAuthGrant | None:
        grant: OAuthGrant | None = getattr(request, "headcount_grant", None)
        if grant is None:
            grant = selectors.oauth_grant_for_code(code, request.client.client_id)
            request.headcount_grant = grant
        return grant

    def validate_code(
        self, client_id: str, code: str, client: Any, request: OAuthRequest, *args: Any, **kw: Any
    ) -> bool:
        grant = self._grant(code, request)
        if grant is None:
            return False
        if grant.used_at is not None:
            # RFC 6749 §4.1.2: a replayed code revokes what it was exchanged for.
            services.oauth_grant_replayed(grant=grant, ip=_client_ip(request))
            return False
        if grant.expires_at <= timezone.now():
            return False
        if not scim_gate(current_company(), fresh=True).open:
            raise errors.InvalidGrantError(
                description="SCIM provisioning is not active for this company.", request=request
            )
        request.scopes = grant.scope.split()
        request.user = grant.approved_by
        return True

    def confirm_redirect_uri(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        client: Any,
        request: OAuthRequest,
        *args: Any,
        **kw: Any,
    ) -> bool:
        grant = self._grant(code, request)
        return grant is not None and grant.redirect_uri == redirect_uri

    def get_code_challenge(self, code: str, request: OAuthRequest) -> str | None:
        grant = self._grant(code, request)
        return (grant.code_challenge or None) if grant else None

    def get_code_challenge_method(self, code: str, request: OAuthRequest) -> str | None:
        grant = self._grant(code, request)
        return (grant.code_challenge_method or None) if grant else None

    def get_authorization_code_scopes(
        self, client_id: str, code: str, redirect_uri: str, request: OAuthRequest
    ) -> list[str]:
        grant = self._grant(code, request)
        return grant.scope.split() if grant else []

    def get_authorization_code_nonce(self, *args: Any, **kwargs: Any) -> None:
        return None

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: OAuthRequest, *args: Any, **kw: Any
    ) -> None:
        # Nothing left to do: save_bearer_token consumed the grant in the same transaction
        # that stored the tokens (oauthlib calls it first).
        return None

    # --- Refresh tokens ---------------------------------------------------------------------

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: OAuthRequest, *args: Any, **kw: Any
    ) -> bool:
        stored = selectors.oauth_refresh_token(refresh_token, client.client_id)
        if stored is None:
            spent = selectors.oauth_token_of_client(refresh_token, client.client_id)
            if (
                spent is not None
                and spent.kind == OAuthToken.Kind.REFRESH
                and spent.revoked_at is not None
            ):
                # RFC 9700 §4.14.2: a refresh token that was already rotated came back, so
                # someone else may hold the family; end the whole connection.
                services.oauth_refresh_replayed(token=spent, ip=_client_ip(request))
            return False
        if not scim_gate(current_company(), fresh=True).open:
            raise errors.InvalidGrantError(
                description="SCIM provisioning is not active for this company.", request=request
            )
        request.headcount_refresh = stored
        request.user = stored.credential.created_by
        return True

    def get_original_scopes(
        self, refresh_token: str, request: OAuthRequest, *args: Any, **kw: Any
    ) -> list[str]:
        stored: OAuthToken = request.headcount_refresh
        return stored.credential.oauth_scope.split()

    def rotate_refresh_token(self, request: OAuthRequest) -> bool:
        return True

    # --- Issuing and revoking ---------------------------------------------------------------

    def save_bearer_token(
        self, token: dict[str, Any], request: OAuthRequest, *args: Any, **kw: Any
    ) -> None:
        if request.grant_type == "authorization_code":
            grant = getattr(request, "headcount_grant", None)
            if grant is None:
                raise errors.InvalidGrantError(request=request)
            try:
                services.oauth_connection_create(
                    grant=grant,
                    access_token=token["access_token"],
                    refresh_token=token["refresh_token"],
                    ip=_client_ip(request),
                )
            except services.GrantAlreadyUsed:
                # The same code exchanged twice at once: treat the loser as a replay.
                services.oauth_grant_replayed(grant=grant, ip=_client_ip(request))
                raise errors.InvalidGrantError(request=request) from None
        elif request.grant_type == "refresh_token":
            try:
                services.oauth_tokens_rotate(
                    refresh=request.headcount_refresh,
                    access_token=token["access_token"],
                    refresh_token=token["refresh_token"],
                    ip=_client_ip(request),
                )
            except services.GrantAlreadyUsed:
                services.oauth_refresh_replayed(
                    token=request.headcount_refresh, ip=_client_ip(request)
                )
                raise errors.InvalidGrantError(request=request) from None
        else:  # pragma: no cover - validate_grant_type refuses every other grant
            raise errors.UnsupportedGrantTypeError(request=request)

    def revoke_token(
        self,
        token: str,
        token_type_hint: str | None,
        request: OAuthRequest,
        *args: Any,
        **kw: Any,
    ) -> None:
        """RFC 7009: revoking either token of a connection disconnects it (both tokens go, as
        §2.1 allows for access tokens and asks for refresh tokens). Unknown tokens, or tokens
        of another client, are ignored: the endpoint answers 200 either way (§2.2)."""
        client = getattr(request, "client", None)
        if client is None:
            return
        stored = selectors.oauth_token_of_client(token, client.client_id)
        if stored is not None:
            services.credential_revoke(
                credential_id=str(stored.credential_id),
                actor=services.client_label(client.name, " (revocation request)"),
                ip=_client_ip(request),
            )
