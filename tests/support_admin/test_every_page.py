"""No support admin page answers 500: every registered model's list, add and change page, and
its "View on site" link, visited as a superuser with a sample object of each model."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from oauth2_provider.models import get_application_model

from accounts.models import User
from tenants.models import Company
from tokens.vendor_keys import vendor_key_issue
from webhooks.models import WebhookCursor, WebhookDelivery
from webhooks.services import endpoint_add

AXES_ROW = {"user_agent": "curl", "ip_address": "192.0.2.1", "username": "someone@x.test"}


def _delivery() -> WebhookDelivery:
    endpoint = endpoint_add(url="http://127.0.0.1:9/hooks", actor="tests").endpoint
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        schema_name="acme",
        seq=1,
        event_id="00000000-0000-0000-0000-000000000001",
        event_type="user.created",
    )


# One object of every model the admin shows; a model registered later needs one here.
SAMPLES: dict[str, Callable[[], Model]] = {
    "auth.group": lambda: Group.objects.create(name="Tier 2"),
    "accounts.user": lambda: User.objects.get(email="root@support.test"),
    "tenants.company": lambda: Company.objects.get(slug="acme"),
    "events_feed.vendorkey": lambda: vendor_key_issue(name="Backend", actor="tests").key,
    "webhooks.webhookendpoint": lambda: (
        endpoint_add(url="http://127.0.0.1:9/hooks", actor="tests").endpoint
    ),
    "webhooks.webhookdelivery": _delivery,
    "webhooks.webhookcursor": lambda: WebhookCursor.objects.create(
        endpoint=endpoint_add(url="http://127.0.0.1:9/hooks", actor="tests").endpoint,
        schema_name="acme",
        paused_at=timezone.now(),
        paused_reason="acme's events failing",
    ),
    "oauth2_provider.application": lambda: get_application_model().objects.create(
        name="Okta",
        client_type="confidential",
        authorization_grant_type="authorization-code",
        redirect_uris="https://system-admin.okta.com/admin/app/cpc/x/oauth/callback",
    ),
    "django_celery_beat.intervalschedule": lambda: IntervalSchedule.objects.create(
        every=5, period=IntervalSchedule.MINUTES
    ),
    "django_celery_beat.crontabschedule": lambda: CrontabSchedule.objects.create(minute="7"),
    "django_celery_beat.solarschedule": lambda: SolarSchedule.objects.create(
        event="sunrise", latitude=48.85, longitude=2.35
    ),
    "django_celery_beat.clockedschedule": lambda: ClockedSchedule.objects.create(
        clocked_time=timezone.now()
    ),
    "django_celery_beat.periodictask": lambda: PeriodicTask.objects.create(
        name="sample",
        task="directory.tasks.seat_check",
        interval=IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS),
    ),
    "axes.accessattempt": lambda: AccessAttempt.objects.create(
        **AXES_ROW, get_data="", post_data="", failures_since_start=1
    ),
    "axes.accesslog": lambda: AccessLog.objects.create(**AXES_ROW),
    "axes.accessfailurelog": lambda: AccessFailureLog.objects.create(**AXES_ROW),
}

REGISTERED = sorted(model._meta.label_lower for model in admin.site._registry)


def test_every_registered_model_has_a_sample() -> None:
    assert sorted(set(REGISTERED) - set(SAMPLES)) == []


@pytest.mark.parametrize("label", REGISTERED)
def test_no_admin_page_fails(label: str, support_superuser: User, settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = settings.WEBHOOK_ALLOW_HTTP = True  # sample endpoints
    client = Client(raise_request_exception=False)
    client.force_login(support_superuser)
    obj = SAMPLES[label]()
    base = "/admin/{}/{}/".format(*label.split("."))

    pages = {
        url: client.get(url)
        for url in (base, base + "add/", f"{base}{obj.pk}/change/", f"{base}?q=a")
    }
    change = pages[f"{base}{obj.pk}/change/"].content.decode()
    link = re.search(r'<a href="([^"]+)" class="viewsitelink"', change)
    shortcut = f"/admin/r/{ContentType.objects.get_for_model(obj).pk}/{obj.pk}/"
    pages[shortcut] = client.get(shortcut)  # typed or bookmarked: a 404 at worst

    assert {url: r.status_code for url, r in pages.items() if r.status_code >= 500} == {}
    assert pages[f"{base}{obj.pk}/change/"].status_code == 200
    assert pages[shortcut].status_code in (302, 404)
    # A link shown leads to the object's page.
    assert link is None or client.get(link.group(1)).status_code == 302
