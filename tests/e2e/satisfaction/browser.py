"""A real headless Chromium (Debian's ``chromium``), installed when missing: a skipped browser
test checks nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
    )
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(sudo + command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"could not install chromium ({' '.join(command)}):\n{done.stderr[-2000:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.fail("chromium is still missing after apt-get install")
    return found


def dump_dom(url: str, timeout: float = 90) -> str:
    """The DOM after the page loaded and its scripts ran."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000",
             "--dump-dom", url],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(url: str, path: str, timeout: float = 90) -> bytes:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", "--window-size=1280,2000",
             "--virtual-time-budget=5000", f"--screenshot={path}", url],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    with open(path, "rb") as f:
        return f.read()


def rendered_charts(dom: str) -> dict[str, int]:
    """chart name -> marks the browser laid out (set by the page's script after load)."""
    found = {}
    for tag in re.findall(r"<svg[^>]*data-chart=[^>]*>", dom):
        name = re.search(r'data-chart="([^"]+)"', tag)
        marks = re.search(r'data-rendered-marks="(\d+)"', tag)
        if name:
            found[name.group(1)] = int(marks.group(1)) if marks else -1
    return found
