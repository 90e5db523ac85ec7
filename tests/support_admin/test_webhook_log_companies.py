"""The webhook delivery log names companies by slug, as support knows them."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from tenants.models import Company
from webhooks.models import WebhookDelivery, WebhookEndpoint


@pytest.fixture
def root(support_superuser: User) -> Client:
    client = Client()
    client.force_login(support_superuser)
    return client


def test_the_delivery_log_shows_the_companys_slug(
    root: Client, acme: Company, outsider: Company
) -> None:
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/", created_by="t")
    for seq, company in enumerate([acme, outsider, acme]):
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            schema_name=company.schema_name,
            seq=seq,
            event_id=f"00000000-0000-0000-0000-00000000000{seq}",
            event_type="user.created",
        )
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        schema_name="co_gone",
        seq=9,
        event_id="00000000-0000-0000-0000-000000000009",
        event_type="user.created",
    )

    page = root.get("/admin/webhooks/webhookdelivery/").content.decode()

    cells = [cell.split("</td>")[0] for cell in page.split('<td class="field-company">')[1:]]
    assert cells == ["co_gone", "acme", "outsider", "acme"]
    assert "co_acme" not in page
