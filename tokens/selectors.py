"""Reads about credentials. Lookups run in the current schema: a credential of another
company is simply not there."""

from __future__ import annotations

from tokens import secrets
from tokens.models import Credential


def credential_for_bearer(token: str) -> Credential | None:
    """The (not revoked) credential this Bearer token belongs to, or None. A malformed token
    costs no database query."""
    if not secrets.is_well_formed(token, secrets.BEARER_PREFIX):
        return None
    return (
        Credential.objects.not_revoked()
        .filter(kind=Credential.Kind.TOKEN, secret_hash=secrets.hash_secret(token))
        .first()
    )


def credential_for_basic(username: str, secret: str) -> Credential | None:
    """The (not revoked) Basic credential with this username and secret, or None."""
    if not secrets.is_well_formed(secret, secrets.BASIC_SECRET_PREFIX):
        return None
    credential = (
        Credential.objects.not_revoked()
        .filter(kind=Credential.Kind.BASIC, username=username)
        .first()
    )
    if credential is None or not secrets.hashes_match(secret, credential.secret_hash):
        return None
    return credential
