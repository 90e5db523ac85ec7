"""OAuth codes and tokens do not pile up: a day after they expire, the daily task drops them;
until then a replay is still recognised."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.models import Company
from tests.tokens.test_oauth import approved_code, connect, exchange, okta, signed_in
from tokens.models import OAuthGrant, OAuthToken
from tokens.tasks import oauth_purge_all

__all__ = ["okta"]  # the fixture, used by name below


def test_expired_codes_and_tokens_go_a_day_later_and_live_ones_stay(
    acme: Company, okta: Any
) -> None:
    browser = signed_in(acme, email="ada@acme.test")
    old = connect(browser)
    live = connect(browser)
    unused_code = approved_code(browser)
    now = timezone.now()
    with schema_context(acme.schema_name):
        old_access = OAuthToken.objects.get(token_hash__in=_hashes(old.access))
        OAuthToken.objects.filter(pk=old_access.pk).update(expires_at=now - dt.timedelta(days=2))
        OAuthToken.objects.filter(token_hash__in=_hashes(live.access)).update(
            expires_at=now - dt.timedelta(hours=1)  # expired, but within the day of grace
        )
        OAuthGrant.objects.update(expires_at=now - dt.timedelta(days=2))
        tokens_before = OAuthToken.objects.count()

    purged = oauth_purge_all()

    with schema_context(acme.schema_name):
        assert not OAuthToken.objects.filter(pk=old_access.pk).exists()
        assert OAuthToken.objects.count() == tokens_before - 1
        assert not OAuthGrant.objects.exists()
    assert purged >= 4  # one token and the three codes at acme
    # The purged code is simply unknown now: still refused.
    assert exchange(unused_code).json()["error"] == "invalid_grant"
    assert "oauth-retention" in settings.CELERY_BEAT_SCHEDULE


def _hashes(token: str) -> list[str]:
    from tokens.secrets import hash_secret

    return [hash_secret(token)]
