"""DRF authentication for the SCIM API: `Authorization: Bearer <token>` or `Basic <b64>`.

The lookup runs in the schema of the company named in the URL, so a credential is only ever
valid at its own company. Nothing is cached: a revoke takes effect on the next request.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from infra.client_ip import client_ip
from tokens import secrets
from tokens.models import Credential
from tokens.selectors import credential_for_basic, credential_for_bearer, oauth_access_token
from tokens.services import credential_record_use, token_retire

INVALID = "The credential is not valid for this company."


class UnknownCredential(AuthenticationFailed):
    """No credential of this company matches: what guessing looks like, so it is counted
    against the caller's address (see scim/throttling.py)."""


@dataclass(frozen=True)
class ScimClient:
    """Who is calling the SCIM API: the identity provider holding `credential`."""

    credential: Credential

    is_authenticated = True

    @property
    def label(self) -> str:
        return f"{self.credential.get_kind_display()} {self.credential.name}"


IN_URL = (
    "A token in the URL (access_token) is refused: URLs are logged and cached. "
    "Send it in the Authorization header: Authorization: Bearer <token>."
)


class ScimCredentialAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ScimClient, Credential] | None:
        """The calling identity provider, or None when it sent no credential.

        Raises AuthenticationFailed (401) for a credential that is malformed, unknown, expired,
        or sent in the URL (RFC 6750 §2.3 allows it; we do not, whatever the header says)."""
        if "access_token" in request.query_params:
            raise AuthenticationFailed(IN_URL)
        header = request.META.get("HTTP_AUTHORIZATION", "").strip()
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value.startswith(secrets.OAUTH_ACCESS_PREFIX):
            credential = self._oauth(value)
        elif scheme.lower() == "bearer":
            credential = credential_for_bearer(value)
        elif scheme.lower() == "basic":
            username, credential = self._basic(value)
            # The rate limits count wrong secrets per Basic username (scim/throttling.py).
            request.scim_basic_username = username  # type: ignore[attr-defined]
        elif secrets.is_well_formed(scheme, secrets.BEARER_PREFIX) and not value:
            # Some IdP set-ups send the bare token as the header value.
            credential = credential_for_bearer(scheme)
        else:
            raise AuthenticationFailed("Use a Bearer token or Basic credentials.")
        if credential is None:
            raise UnknownCredential(INVALID)
        if credential.status == Credential.Status.EXPIRED and credential.expires_at is not None:
            raise AuthenticationFailed(
                f"This credential expired on {credential.expires_at:%Y-%m-%d %H:%M} UTC."
            )
        if (
            credential.retires_at is not None
            and credential.retires_at <= timezone.now()
            and token_retire(credential=credential, ip=client_ip(request))
        ):
            # The hourly sweep may not have run yet; the grace period ends on time regardless.
            raise AuthenticationFailed(
                "This token was replaced by rotation and its grace period is over. "
                "Use its successor."
            )
        credential_record_use(credential=credential, ip=client_ip(request))
        return ScimClient(credential), credential

    @staticmethod
    def _oauth(value: str) -> Credential | None:
        token = oauth_access_token(value)
        if token is None:
            return None
        if token.expires_at <= timezone.now():
            raise AuthenticationFailed(
                "This OAuth access token has expired. Refresh it at the token endpoint."
            )
        return token.credential

    @staticmethod
    def _basic(value: str) -> tuple[str, Credential | None]:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise AuthenticationFailed("The Basic credentials are not valid base64.") from None
        username, separator, secret = decoded.partition(":")
        if not separator:
            raise AuthenticationFailed("Basic credentials are username:secret, base64-encoded.")
        return username[:150], credential_for_basic(username, secret)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="SCIM", Basic realm="SCIM"'
