"""Credential secrets: format, checksum, hashing. Plain Python, no Django.

A secret looks like `hct_` + 32 random base62 characters + a 6-character checksum, e.g.
`hct_3jW9…Qe81Zk`. The fixed prefix lets secret scanners (GitHub, GitGuardian …) recognise a
leaked Headcount token; the checksum lets us refuse a mistyped or made-up token without a
database lookup. The random part carries ~190 bits, so a fast hash (SHA-256) is the right way
to store it: there is nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

BEARER_PREFIX = "hct_"
BASIC_SECRET_PREFIX = "hcb_"  # noqa: S105 - a public prefix, not a secret
BASIC_USERNAME_PREFIX = "scim-"
# OAuth access and refresh tokens: same format, their own prefixes, so the SCIM
# authentication knows which table to look in and scanners can tell them apart.
OAUTH_ACCESS_PREFIX = "hco_"
OAUTH_REFRESH_PREFIX = "hcr_"
# Vendor API keys (/api/v1/, tokens/vendor_keys.py): read every company, so their own prefix.
VENDOR_KEY_PREFIX = "hcv_"

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RANDOM_LENGTH = 32
_CHECKSUM_LENGTH = 6
# What the portal shows of a secret so people can tell tokens apart: prefix + 8 characters.
DISPLAY_LENGTH = 8


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(_ALPHABET[remainder])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), _CHECKSUM_LENGTH)


def generate_secret(prefix: str) -> str:
    """A new random secret with `prefix` and a checksum."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
    return f"{prefix}{body}{_checksum(prefix + body)}"


def generate_basic_username() -> str:
    return BASIC_USERNAME_PREFIX + "".join(
        secrets.choice(_ALPHABET[:36].lower()) for _ in range(12)
    )


def has_shape(secret: str, prefix: str) -> bool:
    """True when `secret` has the prefix, length and alphabet of a secret we issue; its
    checksum unchecked (is_well_formed checks both)."""
    if len(secret) != len(prefix) + _RANDOM_LENGTH + _CHECKSUM_LENGTH:
        return False
    # The alphabet is exactly ASCII's letters and digits: two C-level checks, not a Python
    # loop (this runs on every SCIM request). isascii() first: isalnum() also takes other
    # scripts' letters and digits.
    return secret.startswith(prefix) and secret.isascii() and secret[len(prefix) :].isalnum()


def is_well_formed(secret: str, prefix: str) -> bool:
    """True when `secret` has the prefix, length, alphabet and a matching checksum."""
    if not has_shape(secret, prefix):
        return False
    body = secret[len(prefix) : -_CHECKSUM_LENGTH]
    return hmac.compare_digest(secret[-_CHECKSUM_LENGTH:], _checksum(prefix + body))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hashes_match(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def display_prefix(secret: str, prefix: str) -> str:
    return secret[: len(prefix) + DISPLAY_LENGTH]
