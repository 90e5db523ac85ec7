"""A company's SCIM rate limits, as policy: what they are (the company's own limit, else the
settings) and what its admins are told. Enforcing them is the SCIM API's job
(scim/throttling.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from tenants.models import Company


def company_limit(company: Company) -> int:
    if company.scim_rate_limit is not None:
        return company.scim_rate_limit
    return int(settings.SCIM_RATE_LIMIT_PER_MINUTE)


def credential_limit() -> int:
    return int(settings.SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE)


def failed_sign_in_limit() -> int:
    return int(settings.SCIM_AUTH_FAILURES_PER_MINUTE)


@dataclass(frozen=True)
class RateLimits:
    """What a company's admins are told about their limits (0 = unlimited)."""

    enabled: bool
    company: int
    credential: int
    failed_sign_ins: int


def limits_for(company: Company) -> RateLimits:
    return RateLimits(
        enabled=bool(settings.RATE_LIMIT_ENABLED),
        company=company_limit(company),
        credential=credential_limit(),
        failed_sign_ins=failed_sign_in_limit(),
    )
