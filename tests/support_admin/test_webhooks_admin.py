"""Support staff's webhook endpoints in the admin: registering one shows its secret once, event
types are checkboxes, the delivery log lists attempts and resends, rotation shows the new
secret, and re-enabling a disabled endpoint clears its failure record."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from tenants.models import Company
from webhooks.models import WebhookCursor, WebhookDelivery, WebhookEndpoint
from webhooks.secrets import decrypt
from webhooks.services import endpoint_add

pytestmark = pytest.mark.django_db

ENDPOINTS = "/admin/webhooks/webhookendpoint/"


@pytest.fixture(autouse=True)
def _loopback_allowed(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_ALLOW_HTTP = True


@pytest.fixture
def root(support_superuser: User) -> Client:
    client = Client()
    client.force_login(support_superuser)
    return client


def test_registering_an_endpoint_shows_its_secret_once(root: Client, outsider: Company) -> None:
    page = root.get(ENDPOINTS + "add/")
    assert page.status_code == 200
    assert b'type="checkbox" name="event_types" value="user.created"' in page.content
    response = root.post(
        ENDPOINTS + "add/",
        {
            "url": "http://127.0.0.1:9/hooks",
            "company": str(outsider.pk),
            "event_types": ["user.created", "user.deleted"],
            "format": "standard",
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    secret = re.search(rb'id="webhook-secret"[^>]*>(whsec_[^<]+)<', response.content)
    assert secret is not None
    endpoint = WebhookEndpoint.objects.get(url="http://127.0.0.1:9/hooks")
    assert decrypt(endpoint.secret_encrypted) == secret.group(1).decode()
    assert endpoint.event_types == ["user.created", "user.deleted"]
    assert endpoint.company == outsider and endpoint.created_by == "root@support.test"
    # Never again: the change page does not show it.
    assert secret.group(1) not in root.get(f"{ENDPOINTS}{endpoint.pk}/change/").content


def test_a_private_url_is_refused_with_a_message(root: Client, settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    response = root.post(
        ENDPOINTS + "add/", {"url": "http://10.1.2.3/hooks", "format": "standard", "enabled": "on"}
    )
    assert response.status_code == 200
    assert b"non-public address" in response.content
    assert not WebhookEndpoint.objects.filter(url="http://10.1.2.3/hooks").exists()


def test_rotation_shows_the_new_secret_and_keeps_the_old_one_for_a_while(
    root: Client,
) -> None:
    issued = endpoint_add(url="http://127.0.0.1:9/hooks", actor="tests")
    response = root.post(
        ENDPOINTS, {"action": "rotate_secret", "_selected_action": [str(issued.endpoint.pk)]}
    )
    assert response.status_code == 200
    secret = re.search(rb'id="webhook-secret"[^>]*>(whsec_[^<]+)<', response.content)
    assert secret is not None
    endpoint = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert decrypt(endpoint.secret_encrypted) == secret.group(1).decode() != issued.secret
    assert decrypt(endpoint.previous_secret_encrypted) == issued.secret
    assert endpoint.previous_secret_until and endpoint.previous_secret_until > timezone.now()


def test_delivery_log_and_resend(root: Client, acme: Company) -> None:
    issued = endpoint_add(url="http://127.0.0.1:9/hooks", company=acme, actor="tests")
    cursor, _ = WebhookCursor.objects.get_or_create(
        endpoint=issued.endpoint, schema_name=acme.schema_name, defaults={"delivered_seq": 7}
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=issued.endpoint,
        schema_name=acme.schema_name,
        seq=cursor.delivered_seq,
        event_id="00000000-0000-0000-0000-000000000001",
        event_type="user.created",
        status=WebhookDelivery.Status.DELIVERED,
        attempts=3,
        response_status=200,
        latency_ms=42,
        response_excerpt="thanks",
    )
    log = root.get(f"/admin/webhooks/webhookdelivery/?endpoint__id__exact={issued.endpoint.pk}")
    assert log.status_code == 200
    assert b"user.created" in log.content and b"thanks" in log.content and b"42" in log.content
    response = root.post(
        "/admin/webhooks/webhookdelivery/",
        {"action": "resend", "_selected_action": [str(delivery.pk)]},
    )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.RETRYING
    assert WebhookCursor.objects.get(pk=cursor.pk).delivered_seq == delivery.seq - 1


def test_enabling_a_disabled_endpoint_clears_its_failures(root: Client) -> None:
    issued = endpoint_add(url="http://127.0.0.1:9/hooks", actor="tests")
    WebhookEndpoint.objects.filter(pk=issued.endpoint.pk).update(
        enabled=False,
        failing_since=timezone.now(),
        disabled_at=timezone.now(),
        disabled_reason="failing",
    )
    response = root.post(
        f"{ENDPOINTS}{issued.endpoint.pk}/change/",
        {"url": "http://127.0.0.1:9/hooks", "format": "standard", "enabled": "on"},
    )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert endpoint.enabled and endpoint.failing_since is None and endpoint.disabled_at is None


def test_a_paused_company_stream_shows_on_its_endpoint_and_is_resumed(
    root: Client, acme: Company
) -> None:
    issued = endpoint_add(url="http://127.0.0.1:9/hooks", actor="tests")
    cursor, _ = WebhookCursor.objects.get_or_create(
        endpoint=issued.endpoint, schema_name=acme.schema_name
    )
    WebhookCursor.objects.filter(pk=cursor.pk).update(
        paused_at=timezone.now(),
        failing_since=timezone.now(),
        retry_at=timezone.now(),
        paused_reason="acme's events failing since 2026-12-06 10:00 UTC",
    )

    endpoints = root.get(ENDPOINTS).content.decode()
    streams = root.get(
        f"/admin/webhooks/webhookcursor/?endpoint__id__exact={issued.endpoint.pk}&paused=yes"
    ).content.decode()
    response = root.post(
        "/admin/webhooks/webhookcursor/",
        {"action": "resume", "_selected_action": [str(cursor.pk)]},
    )

    assert "1 paused" in endpoints
    assert acme.schema_name in streams and "acme&#x27;s events failing since" in streams
    assert response.status_code == 302
    cursor.refresh_from_db()
    assert (cursor.paused_at, cursor.paused_reason, cursor.failing_since) == (None, "", None)
    assert cursor.retry_at is None


def test_staff_who_may_only_look_cannot_rotate_or_resend(acme: Company) -> None:
    # A rotation shows the new secret: an action a view-only staffer must not be offered.
    from django.contrib.auth.models import Permission
    from django_tenants.utils import schema_context

    from tests.conftest import TEST_PASSWORD

    with schema_context("public"):
        looker = User.objects.create_user(
            email="looker@vendor.test", password=TEST_PASSWORD, is_staff=True
        )
        looker.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="webhooks",
                codename__in=["view_webhookendpoint", "view_webhookdelivery"],
            )
        )
        client = Client()
        client.force_login(looker)
    issued = endpoint_add(url="http://127.0.0.1:9/hooks", company=acme, actor="tests")
    delivery = WebhookDelivery.objects.create(
        endpoint=issued.endpoint,
        schema_name=acme.schema_name,
        seq=1,
        event_id="00000000-0000-0000-0000-000000000002",
        event_type="user.created",
        status=WebhookDelivery.Status.DELIVERED,
        attempts=1,
    )

    rotate = client.post(
        ENDPOINTS, {"action": "rotate_secret", "_selected_action": [str(issued.endpoint.pk)]}
    )
    client.post(
        "/admin/webhooks/webhookdelivery/",
        {"action": "resend", "_selected_action": [str(delivery.pk)]},
    )

    assert b"whsec_" not in rotate.content
    endpoint = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert decrypt(endpoint.secret_encrypted) == issued.secret
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
