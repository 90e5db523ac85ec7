"""Periodic tasks of the credentials app."""

from __future__ import annotations

from celery import shared_task

from tenants.periodic import for_each_company
from tokens.services import oauth_purge, token_expiry_reminders, tokens_retire_due


@shared_task(name="tokens.tasks.oauth_purge_all")
def oauth_purge_all() -> int:
    """Daily: drop expired OAuth codes and tokens in every company (tokens.services)."""
    return sum(for_each_company(lambda _company: oauth_purge()))


@shared_task(name="tokens.tasks.token_lifecycle_all")
def token_lifecycle_all() -> dict[str, int]:
    """Hourly, in every company: revoke rotated-out tokens whose grace period is over, and
    e-mail the expiry reminders that are due (tokens.services)."""
    retired = sum(for_each_company(lambda _company: tokens_retire_due()))
    reminded = sum(for_each_company(token_expiry_reminders))
    return {"retired": retired, "reminded": reminded}
