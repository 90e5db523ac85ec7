"""Headless Chromium (Debian's package) driven by Playwright. No browser is downloaded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from devstack.chromium import INSTALL_HINT, chromium_path

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    # Playwright's sync API keeps an asyncio loop in this thread; Django then refuses ORM calls
    # here, though nothing async touches them. Committed test data is written from other
    # threads anyway (see test modules), so allowing it is safe.
    executable = chromium_path()
    if executable is None:
        # `make test` checks before running; a bare `pytest` says the same once, not a traceback.
        pytest.fail(INSTALL_HINT, pytrace=False)
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()
