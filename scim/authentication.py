"""DRF authentication for the SCIM API: `Authorization: Bearer <token>` or `Basic <b64>`.

The lookup runs in the schema of the company named in the URL, so a credential is only ever
valid at its own company. Nothing is cached: a revoke takes effect on the next request.

A Bearer token or Basic pair is read by the company routing's own statement (route_read,
registered in scim/apps.py; tenants.middleware.RouteRead): one round trip for the company and
the credential. When routing could not read it (the first request of this process for the
company, or a slug that moved), the selectors look it up here as before.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from directory.traffic import Caller, Cause
from infra.client_ip import client_ip
from scim.media import in_query
from tokens import secrets
from tokens.models import Credential
from tokens.selectors import (
    CredentialRead,
    basic_read,
    bearer_read,
    credential_for_basic,
    credential_for_bearer,
    credential_refused,
    oauth_access_token,
)
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
        return self.credential.label


IN_URL = (
    "A token in the URL (access_token) is refused: URLs are logged and cached. "
    "Send it in the Authorization header: Authorization: Bearer <token>."
)


def _note(request: Request, caller: Caller) -> None:
    request._request.scim_caller = caller  # type: ignore[attr-defined]


def _presented_token(value: str, prefix: str = secrets.BEARER_PREFIX) -> str:
    """What may be kept of a presented Bearer token: its display prefix (what the portal
    shows of every token) when it is well formed, else only that it was not."""
    if secrets.is_well_formed(value, prefix):
        return secrets.display_prefix(value, prefix)
    return "malformed token"


_BASIC_USERNAME = re.compile(rf"{re.escape(secrets.BASIC_USERNAME_PREFIX)}[0-9a-z]{{12}}")


def _presented_basic(username: str) -> str:
    """What may be kept of a presented Basic username: the username when it has the shape we
    issue. People swap the fields or paste the secret into the username: anything else may
    be a secret, so only that it was not one of ours is kept."""
    if _BASIC_USERNAME.fullmatch(username):
        return f"Basic {username}"
    return "Basic (unrecognised username)"


# Until authentication knows better. Caller is frozen: one value serves every request.
_REJECTED = Caller.refused(Cause.REJECTED)

_UNAUTHENTICATED_CEILINGS = ("/scim/v2/_bench/empty", "/scim/v2/_bench/lookup")


def route_read(request: HttpRequest) -> CredentialRead | None:
    """What company routing reads with the route for a SCIM request: the credential of its
    Authorization header (Bearer token or Basic pair), or None (none, malformed, an OAuth
    access token). Kept on the request for ScimCredentialAuthentication.

    Nothing for the benchmark's two routing-only ceilings (bench/urls.py): they authenticate
    nothing, and stand for routing alone."""
    if request.path.endswith(_UNAUTHENTICATED_CEILINGS):
        return None
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    value = value.strip()
    read = None
    if scheme.lower() == "bearer" and not value.startswith(secrets.OAUTH_ACCESS_PREFIX):
        read = bearer_read(value)
    elif scheme.lower() == "basic":
        pair = _decoded_basic(value)
        read = None if pair is None else basic_read(*pair)
    elif secrets.is_well_formed(scheme, secrets.BEARER_PREFIX) and not value:
        read = bearer_read(scheme)
    request.scim_credential_read = read  # type: ignore[attr-defined]
    return read


def basic_username(request: HttpRequest) -> str | None:
    """The username of the request's Basic credentials, once authentication has read them;
    None for any other credential."""
    return getattr(request, "scim_basic_username", None)


def _routed_read(request: Request) -> CredentialRead | None:
    return getattr(request._request, "scim_credential_read", None)


def _basic_pair(value: str) -> tuple[str, str]:
    """(username, secret) of a Basic header's value. Raises AuthenticationFailed (401), saying
    why, when it is not base64 of `username:secret` in UTF-8 without NUL."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise AuthenticationFailed("The Basic credentials are not valid base64.") from None
    if "\x00" in decoded:
        # The request edge refuses NUL in headers, but base64 hides it; PostgreSQL text cannot
        # hold it (the lookup would fail), and no credential we issue has one.
        raise AuthenticationFailed("The Basic credentials hold a NUL character.")
    username, separator, secret = decoded.partition(":")
    if not separator:
        raise AuthenticationFailed("Basic credentials are username:secret, base64-encoded.")
    return username[:150], secret


def _decoded_basic(value: str) -> tuple[str, str] | None:
    """(username, secret) of a Basic header's value; None when it is not one (_basic_pair)."""
    try:
        return _basic_pair(value)
    except AuthenticationFailed:
        return None


def _presented(scheme: str, value: str, username: str) -> str:
    """What may be kept of the credential presented with `scheme` (lowered) and `value`."""
    if scheme == "basic":
        return _presented_basic(username)
    if value.startswith(secrets.OAUTH_ACCESS_PREFIX):
        return _presented_token(value, secrets.OAUTH_ACCESS_PREFIX)
    return _presented_token(value)


def _diagnosed(scheme: str, value: str, username: str, read: CredentialRead | None) -> Caller:
    """The record of a refused credential: revoked or expired ones of this company by name,
    anything else by what was presented (worked out only here: an accepted credential needs
    none of it). The caller's 401 says neither: it stays the same whether the credential
    exists or not (and so does the work done: the same one lookup either way, made by the
    route's statement when it could)."""
    known = credential_refused(scheme, value, username, read)
    if known is None:
        return Caller.refused(Cause.REJECTED, _presented(scheme, value, username))
    cause = Cause.REVOKED if known.status == Credential.Status.REVOKED else Cause.REJECTED
    if known.status == Credential.Status.EXPIRED:
        cause = Cause.EXPIRED
    return Caller.refused(cause, credential_id=known.pk)


class ScimCredentialAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ScimClient, Credential] | None:
        """The calling identity provider, or None when it sent no credential.

        Raises AuthenticationFailed (401) for a credential that is malformed, unknown, expired,
        or sent in the URL (RFC 6750 §2.3 allows it; we do not, whatever the header says)."""
        # Who presented what, for the record of a refusal (directory/traffic.py). Never a
        # secret: a credential id, a token's display prefix or a Basic username.
        _note(request, _REJECTED)
        if in_query(request, "access_token"):
            _note(request, Caller.refused(Cause.REJECTED, "token in the URL"))
            raise AuthenticationFailed(IN_URL)
        header = request.META.get("HTTP_AUTHORIZATION", "").strip()
        if not header:
            _note(request, Caller.refused(Cause.NO_CREDENTIAL))
            return None
        scheme, _, value = header.partition(" ")
        value = value.strip()
        username = ""
        read = _routed_read(request)
        lowered = scheme.lower()
        if lowered == "bearer" and value.startswith(secrets.OAUTH_ACCESS_PREFIX):
            credential = self._oauth(value, request)
        elif lowered == "bearer":
            credential = credential_for_bearer(value, read)
        elif lowered == "basic":
            username, value, credential = self._basic(value, read)
            # The rate limits count wrong secrets per Basic username (scim/throttling.py).
            request._request.scim_basic_username = username  # type: ignore[attr-defined]
        elif secrets.is_well_formed(scheme, secrets.BEARER_PREFIX) and not value:
            # Some IdP set-ups send the bare token as the header value.
            lowered, value = "bearer", scheme
            credential = credential_for_bearer(value, read)
        else:
            _note(request, Caller.refused(Cause.REJECTED, "unsupported scheme"))
            raise AuthenticationFailed("Use a Bearer token or Basic credentials.")
        if credential is None:
            _note(request, _diagnosed(lowered, value, username, read))
            raise UnknownCredential(INVALID)
        if credential.status == Credential.Status.EXPIRED and credential.expires_at is not None:
            _note(request, Caller.refused(Cause.EXPIRED, credential_id=credential.pk))
            raise AuthenticationFailed(
                f"This credential expired on {credential.expires_at:%Y-%m-%d %H:%M} UTC."
            )
        if (
            credential.retires_at is not None
            and credential.retires_at <= timezone.now()
            and token_retire(credential=credential, ip=client_ip(request))
        ):
            _note(request, Caller.refused(Cause.REVOKED, credential_id=credential.pk))
            # The hourly sweep may not have run yet; the grace period ends on time regardless.
            raise AuthenticationFailed(
                "This token was replaced by rotation and its grace period is over. "
                "Use its successor."
            )
        _note(request, Caller.of(credential.pk, internal=credential.internal))
        credential_record_use(credential=credential, ip=client_ip(request))
        return ScimClient(credential), credential

    @staticmethod
    def _oauth(value: str, request: Request) -> Credential | None:
        token = oauth_access_token(value)
        if token is None:
            return None
        if token.expires_at <= timezone.now():
            _note(request, Caller.refused(Cause.EXPIRED, credential_id=token.credential_id))
            raise AuthenticationFailed(
                "This OAuth access token has expired. Refresh it at the token endpoint."
            )
        return token.credential

    @staticmethod
    def _basic(value: str, read: CredentialRead | None) -> tuple[str, str, Credential | None]:
        """The username, the secret and the credential they name (None if none)."""
        username, secret = _basic_pair(value)
        return username, secret, credential_for_basic(username, secret, read)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="SCIM", Basic realm="SCIM"'
