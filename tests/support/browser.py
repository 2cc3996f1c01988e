"""Real headless Chromium (Debian's ``/usr/bin/chromium``, installed with apt when missing)
driven by Playwright for Python; never a downloaded browser. Waits are bounded."""

from __future__ import annotations

import subprocess
import tarfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from tests.e2e.satisfaction.browser import chromium
from tests.support.servers import ROOT

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


AXE_VERSION = "4.14.1"


@cache
def axe_source() -> str:
    """axe-core's minified script (MPL-2.0) from the npm registry (``npm pack``), cached in
    the git-ignored ``.local/axe-core/``."""
    folder = Path(ROOT) / ".local" / "axe-core" / AXE_VERSION
    script = folder / "axe.min.js"
    if not script.exists():
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(folder)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        with tarfile.open(folder / f"axe-core-{AXE_VERSION}.tgz") as packed:
            member = packed.extractfile("package/axe.min.js")
            assert member is not None
            script.write_bytes(member.read())
    return script.read_text(encoding="utf-8")


async def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical WCAG 2 A/AA violations on the page as it is (the
    context needs ``bypass_csp=True``: the check is injected, the page keeps its policy)."""
    await page.add_script_tag(content=axe_source())
    found = await page.evaluate(
        """async () => (await axe.run(document, {runOnly: ["wcag2a", "wcag2aa"]})).violations
            .filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", "))"""
    )
    return list(found)
