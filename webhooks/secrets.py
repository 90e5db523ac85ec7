"""Signing secrets: generated as Standard Webhooks `whsec_` + base64 of 32 random bytes, kept
encrypted (Fernet, AES-128-CBC + HMAC) under a key derived from WEBHOOK_SECRET_KEY, or
SECRET_KEY when that is empty. A secret has to sign, so a hash alone would not do; rotating
WEBHOOK_SECRET_KEY makes stored secrets unreadable (rotate the endpoints' secrets then)."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet
from django.conf import settings

PREFIX = "whsec_"


def secret_new() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for (also the HS256 key of SETs)."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def _fernet() -> Fernet:
    material = settings.WEBHOOK_SECRET_KEY or settings.SECRET_KEY
    # A purpose string keeps this key apart from anything else derived from SECRET_KEY.
    key = hashlib.sha256(b"headcount.webhooks.secret:" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
