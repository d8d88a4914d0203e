"""A real headless Chromium (Debian's ``chromium``) driven by Playwright, for the widget's
end-to-end tests; the tests are skipped, saying why, where either is missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest

CHROMIUM = os.environ.get("FRONTDESK_CHROMIUM") or shutil.which("chromium") or ""

try:
    from playwright.async_api import Browser, async_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    async_playwright = None  # type: ignore[assignment]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if async_playwright is None or not CHROMIUM:
        pytest.skip("needs playwright (dev extra) and chromium (apt-get install chromium)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        await chromium.close()
