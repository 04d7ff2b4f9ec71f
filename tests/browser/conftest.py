"""A real browser for the pages: Debian's Chromium driven by Playwright's sync API.

Playwright never downloads a browser here (no `playwright install`): it drives the system's
Chromium. Without it the browser tests are skipped on a developer's machine, but fail in CI,
where they must run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Chromium puts sandboxed frames (the message frames) in their own process; Playwright attaches
    # to it only after the frame's first requests have left, so its routes miss them. Tests route
    # the "remote" images of an email, and those must never reach the network.
    "--disable-features=IsolateSandboxedIframes",
]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One Chromium per test module. Not per session: while Playwright runs, this thread has an
    event loop, and the rest of the suite (async_to_sync in particular) must run without it.

    Django refuses ORM calls from a thread with a running event loop; Playwright's sync API keeps
    one here, and the tests (and pytest-django's flush after each) use the ORM beside it. So the
    check is switched off for exactly as long as the browser runs.
    """
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM} (sudo apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the browser tests.", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A fresh browser context (no cookies) on the live server, in English."""
    context = browser.new_context(
        base_url=live_server.url,
        locale="en-GB",
        viewport={"width": 1360, "height": 900},
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot when HELPDESK_SCREENSHOT_DIR is set, to look at the pages."""
    directory = os.environ.get("HELPDESK_SCREENSHOT_DIR")

    def take(name: str) -> None:
        if directory:
            # From the top: a sticky top bar in a scrolled full-page shot lands mid-page.
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)

    return take
