"""Real headless Chromium (Debian's ``/usr/bin/chromium``, installed with apt when missing)
driven by Playwright for Python; never a downloaded browser. Waits are bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Browser, async_playwright

from tests.e2e.satisfaction.browser import chromium

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000  # a bound on every wait, not a speed assertion


@asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        found = await playwright.chromium.launch(executable_path=chromium(), args=ARGS)
        try:
            yield found
        finally:
            await found.close()
