"""Rate limits on the SCIM API.

Three limits, all per minute (sliding window), all checked in one Redis round trip:
- per company: every credential of the company together (Company.scim_rate_limit, else
  SCIM_RATE_LIMIT_PER_MINUTE);
- per credential: one IdP connection cannot use up the whole company's budget
  (SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE);
- failed sign-ins per (company, client address): unknown tokens or Basic secrets. Once over
  (SCIM_AUTH_FAILURES_PER_MINUTE), every request from that address to that company gets 429,
  right or wrong, so guessing learns nothing. Keyed by company too, because Okta and Entra
  call from shared addresses: one company's misconfigured connector must not lock out the
  others.
Over a limit: 429 with Retry-After and a SCIM error. Redis away: everything is let through
(config/ratelimit.py logs it).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from config.ratelimit import Limit, Verdict, limiter
from scim.errors import TooManyRequests
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


def _failures(company: Company, ip: str | None, cost: int) -> Limit:
    return Limit(f"{company.schema_name}:fail:{ip or 'unknown'}", failed_sign_in_limit(), cost)


def admit(company: Company, credential_id: str, ip: str | None) -> None:
    """Count one request made with credential `credential_id`; raise TooManyRequests when a
    limit is reached."""
    rate = limiter()
    if rate is None:
        return
    failures = _failures(company, ip, cost=0)
    per_company = Limit(f"{company.schema_name}:company", company_limit(company))
    per_credential = Limit(f"{company.schema_name}:cred:{credential_id}", credential_limit())
    verdict = rate.check([failures, per_company, per_credential])
    if not verdict.allowed:
        raise _refusal(verdict, company, failures, per_company)


def record_failed_sign_in(company: Company, ip: str | None) -> None:
    """Count an unknown credential from `ip`; raise TooManyRequests when the address has
    already used up its failures (the caller raises its own 401 otherwise)."""
    rate = limiter()
    if rate is None:
        return
    failures = _failures(company, ip, cost=1)
    verdict = rate.check([failures])
    if not verdict.allowed:
        raise _refusal(verdict, company, failures, None)


def _refusal(
    verdict: Verdict, company: Company, failures: Limit, per_company: Limit | None
) -> TooManyRequests:
    wait = verdict.retry_after
    refused = verdict.refused_by
    if refused is not None and refused.key == failures.key:
        detail = (
            f"Too many failed sign-in attempts from this address. Retry after {wait} s "
            "with a valid credential."
        )
    elif refused == per_company:
        detail = (
            f"{company.name} has reached its limit of {company_limit(company)} SCIM requests "
            f"per minute. Retry after {wait} s."
        )
    else:
        detail = (
            f"This credential has reached its limit of {credential_limit()} requests per "
            f"minute. Retry after {wait} s."
        )
    return TooManyRequests(detail, headers={"Retry-After": str(wait)})
