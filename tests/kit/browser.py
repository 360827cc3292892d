"""A real headless Chromium for the status page's tests, driven by Playwright.

Debian's ``chromium`` (``.ci/run`` installs it when missing) or ``RISKD_TEST_CHROMIUM``. Tests
taking ``browser`` are skipped without one, unless ``RISKD_REQUIRE_BROWSER=1`` (``.ci/run``
sets it) makes that a failure. Screenshots go to ``RISKD_TEST_ARTIFACTS`` (default:
``test-artifacts/`` in the checkout), kept after the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM_VAR = "RISKD_TEST_CHROMIUM"
REQUIRE_BROWSER_VAR = "RISKD_REQUIRE_BROWSER"
ARTIFACTS_VAR = "RISKD_TEST_ARTIFACTS"
ROOT = Path(__file__).resolve().parents[2]
STEP_MS = 5_000  # the longest a test waits for one thing on the page


def chromium() -> str | None:
    """The Chromium executable to drive, or None."""
    return os.environ.get(CHROMIUM_VAR) or shutil.which("chromium")


def artifacts() -> Path:
    """Where the tests' screenshots are kept."""
    folder = Path(os.environ.get(ARTIFACTS_VAR) or ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot of *page* as ``<artifacts>/<name>.png``."""
    path = artifacts() / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the session."""
    executable = chromium()
    if executable is None:
        reason = f"no chromium on PATH and {CHROMIUM_VAR} unset"
        if os.environ.get(REQUIRE_BROWSER_VAR) == "1":
            pytest.fail(f"{reason}, and {REQUIRE_BROWSER_VAR}=1", pytrace=False)
        pytest.skip(reason)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        await launched.close()


@pytest_asyncio.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh tab (its own session storage) at a laptop's size; JavaScript errors fail the
    test that opened it."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.set_default_timeout(STEP_MS)
    yield tab
    await context.close()
    assert not errors, errors
