"""``python -m shared.dev_issuer serve`` as a real process, acting as the OpenID Connect
provider the console signs staff in with: the test issuer's key (``tests.support.identity``),
so the access tokens it issues are the ones the services of the test already trust."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization

from tests.support.identity import AUDIENCE, ISSUER, issuer_for_tests
from tests.support.processes import free_port
from tests.support.servers import ROOT


@dataclass
class DevProvider:
    url: str
    client_secret: str
    redirect_url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def console_env(self) -> dict[str, str]:
        """The console's settings for signing in with this provider."""
        return {
            "CONSOLE_OIDC_ISSUER": ISSUER,
            # The test issuer's name is not an address: its discovery document is here.
            "CONSOLE_OIDC_DISCOVERY_URL": f"{self.url}/.well-known/openid-configuration",
            "CONSOLE_OIDC_CLIENT_ID": "console",
            "CONSOLE_OIDC_CLIENT_SECRET": self.client_secret,
            "CONSOLE_OIDC_REDIRECT_URL": self.redirect_url,
            "CONSOLE_OIDC_PROVIDER_NAME": "the development provider",
        }

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def start_dev_provider(folder: Path, console_port: int) -> DevProvider:
    """The provider with the console (on ``console_port``) registered as its client."""
    folder.mkdir(parents=True, exist_ok=True)
    pem = issuer_for_tests().private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (folder / "private.pem").write_bytes(pem)
    os.chmod(folder / "private.pem", 0o600)
    port, secret = free_port(), secrets.token_urlsafe(24)
    redirect = f"http://127.0.0.1:{console_port}/auth/callback"
    env = {
        **os.environ,
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "DEV_ISSUER_CLIENT_ID": "console",
        "DEV_ISSUER_CLIENT_SECRET": secret,
        "DEV_ISSUER_REDIRECT_URIS": redirect,
    }
    log = folder / "provider.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shared.dev_issuer", "serve", "--folder", str(folder),
             "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the dev provider exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return DevProvider(url, secret, redirect, proc, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise TimeoutError(f"the dev provider did not answer:\n{log.read_text()}")
