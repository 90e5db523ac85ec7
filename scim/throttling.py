"""Rate limits on the SCIM API.

Three limits, all per minute (sliding window), checked together in one Redis round trip
when one is needed (infra/ratelimit.py: the company and credential limits are spent from
leases, so most requests need none; failed sign-ins are counted exactly, every time):
- per company: every credential of the company together (Company.scim_rate_limit, else
  SCIM_RATE_LIMIT_PER_MINUTE);
- per credential: one IdP connection cannot use up the whole company's budget
  (SCIM_CREDENTIAL_RATE_LIMIT_PER_MINUTE);
- failed sign-ins per (company, client address): unknown tokens, and wrong secrets for a
  Basic username (SCIM_AUTH_FAILURES_PER_MINUTE). Past the limit, further unknown tokens
  from that address get 429, and so does that Basic username from that address, right
  secret or wrong, so its secret cannot be guessed. A valid *token* is still admitted:
  tokens carry ~190 random bits (there is nothing to guess), while refusing them would let
  anyone who knows a company's URL lock its identity provider out by sending junk tokens
  from the same shared Okta or Entra addresses. Keyed by company too, for the same reason.
Over a limit: 429 with Retry-After and a SCIM error. Redis away: everything is let through
(infra/ratelimit.py logs it).
"""

from __future__ import annotations

from infra.ratelimit import Limit, Verdict, limiter
from scim_protocol.errors import TooManyRequests
from tenants.models import Company
from tenants.rate_limits import company_limit, credential_limit, failed_sign_in_limit


def _failures(company: Company, ip: str | None, username: str | None, cost: int) -> Limit:
    who = f"{ip or 'unknown'}" + (f":basic:{username}" if username is not None else "")
    return Limit(f"{company.schema_name}:fail:{who}", failed_sign_in_limit(), cost)


def admit(
    company: Company,
    credential_id: str,
    ip: str | None,
    basic_username: str | None = None,
    *,
    cost: int = 1,
) -> None:
    """Count `cost` requests (one; a bulk request's further operations count as more) made
    with credential `credential_id`; raise TooManyRequests when a limit is reached, or when
    Basic credentials come for a username that this address has been guessing secrets
    for."""
    rate = limiter()
    if rate is None:
        return
    # Leased: most requests are admitted from units this process reserved in advance, with
    # no round trip (infra/ratelimit.py says how far that can refuse early).
    per_company = Limit(f"{company.schema_name}:company", company_limit(company), cost, leased=True)
    per_credential = Limit(
        f"{company.schema_name}:cred:{credential_id}", credential_limit(), cost, leased=True
    )
    limits = [per_company, per_credential]
    failures = None
    if basic_username is not None:
        failures = _failures(company, ip, basic_username, cost=0)
        limits.insert(0, failures)
    verdict = rate.check(limits)
    if not verdict.allowed:
        raise _refusal(verdict, company, failures, per_company)


def record_failed_sign_in(company: Company, ip: str | None, basic_username: str | None) -> None:
    """Count an unknown token, or a wrong secret for a Basic username, from `ip`; raise
    TooManyRequests when that is over the limit (the caller raises its own 401 otherwise)."""
    rate = limiter()
    if rate is None:
        return
    failures = _failures(company, ip, basic_username, cost=1)
    verdict = rate.check([failures])
    if not verdict.allowed:
        raise _refusal(verdict, company, failures, None)


def _refusal(
    verdict: Verdict, company: Company, failures: Limit | None, per_company: Limit | None
) -> TooManyRequests:
    wait = verdict.retry_after
    refused = verdict.refused_by
    if refused is not None and refused == failures:
        detail = f"Too many failed sign-in attempts from this address. Retry after {wait} s."
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
