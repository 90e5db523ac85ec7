"""Vendor API keys on /api/v1/: `Authorization: Bearer hcv_…`. Nothing else authenticates
here: a company's SCIM token (hct_), Basic pair or OAuth token is not a vendor key, whatever
its company, and is refused like any unknown key."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from events.feed.models import VendorKey
from tokens.vendor_keys import vendor_key_for_secret, vendor_key_record_use

REALM = 'Bearer realm="Headcount vendor API"'


class VendorCaller:
    """request.user on the vendor API: the key's name, for logs; never a Django user."""

    is_authenticated = True

    def __init__(self, key: VendorKey):
        self.key = key

    def __str__(self) -> str:
        return f"vendor key {self.key.name}"


class VendorKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request).decode("latin-1")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise exceptions.NotAuthenticated("Send a vendor API key: Authorization: Bearer hcv_…")
        key = vendor_key_for_secret(secret.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked vendor API key.")
        vendor_key_record_use(key)
        return VendorCaller(key), key

    def authenticate_header(self, request: Request) -> str:
        return REALM
