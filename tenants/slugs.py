"""Company slugs: the `<slug>` in `/t/<slug>/`, and the seed of the company's schema name.

Plain Python so the rules can be read and tested without a database.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

SLUG_MAX_LENGTH = 40

# A DNS label (lowercase letters, digits, inner hyphens), so a slug can later become a
# sub-domain without renaming anyone.
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")

# Words that name our own routes, our system schemas, or that would confuse a customer
# looking at a URL ("/t/admin/" must never be somebody's company).
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "app",
        "assets",
        "auth",
        "billing",
        "demo-template",
        "docs",
        "healthz",
        "help",
        "internal",
        "login",
        "logout",
        "media",
        "oauth",
        "pg-catalog",
        "portal",
        "public",
        "root",
        "scim",
        "static",
        "status",
        "support",
        "system",
        "t",
        "template",
        "tenant",
        "tenant-base",
        "test",
        "www",
    }
)


def validate_company_slug(value: str) -> None:
    """Raise ValidationError unless `value` is a usable, unreserved company slug."""
    if not value:
        raise ValidationError("A company slug is required.", code="required")
    if len(value) > SLUG_MAX_LENGTH:
        raise ValidationError(
            f"A company slug has at most {SLUG_MAX_LENGTH} characters.", code="max_length"
        )
    if not _SLUG_RE.match(value):
        raise ValidationError(
            "A company slug uses lowercase letters, digits and hyphens, "
            "and starts and ends with a letter or digit (for example: acme-corp).",
            code="invalid",
        )
    if "--" in value:
        raise ValidationError("A company slug cannot contain two hyphens in a row.", code="invalid")
    if value in RESERVED_SLUGS or value.startswith("pg-"):
        raise ValidationError(f'"{value}" is reserved; choose another slug.', code="reserved")


def schema_name_for(slug: str) -> str:
    """The PostgreSQL schema of the company with this (valid) slug.

    Hyphens are not allowed unquoted in identifiers, so they become underscores; slugs never
    contain underscores, so two slugs never share a schema. The prefix keeps company schemas
    apart from `public`, `tenant_base` and anything PostgreSQL reserves (`pg_*`).
    """
    return "co_" + slug.replace("-", "_")
