"""DRF authentication for the SCIM API: `Authorization: Bearer <token>` or `Basic <b64>`."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

SCHEMES = ("bearer", "basic")


class ScimCredentialAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, _credential = header.partition(" ")
        if scheme.lower() not in SCHEMES:
            raise AuthenticationFailed("Use a Bearer token or Basic credentials.")
        # Credentials are issued on the Access rights screen; until one exists none is valid.
        raise AuthenticationFailed("The credential is not valid for this company.")

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="SCIM", Basic realm="SCIM"'
