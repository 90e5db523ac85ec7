"""The vendor API's documentation page renders in a real browser under its CSP, from our own
static files (no CDN is reachable, and the policy would refuse one)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db]


def test_the_docs_page_shows_the_operations(live_server_url: str, chromium: Browser) -> None:
    page = chromium.new_page()
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    page.goto(f"{live_server_url}/api/v1/docs/")

    heading = page.get_by_role("heading", name="Change events after a cursor")
    expect(heading).to_be_visible(timeout=20_000)
    expect(page.get_by_role("heading", name="Headcount vendor API")).to_be_visible()
    assert not [text for text in refused if "script" in text], refused
    page.close()
