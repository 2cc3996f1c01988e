"""Credentials from configuration strings: ``name:secret,name:secret``.

Intake channels use ``X-API-Key`` (``web:KEY1,hotline:KEY2``); the ops APIs' development
tokens name people (``frontline-li:T1``, see shared.web.ops_auth). Comparison is
constant-time."""

from __future__ import annotations

import hmac
from collections.abc import Iterable


def parse_credentials(spec: str) -> list[tuple[str, str]]:
    """Parse ``name:secret`` pairs; a name may hold several secrets (key rotation)."""
    pairs = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, secret = item.partition(":")
        if not sep or not name.strip() or not secret.strip():
            raise ValueError(f"expected name:secret, got {item!r}")
        pairs.append((name.strip(), secret.strip()))
    return pairs


def identify(secret: str | None, credentials: Iterable[tuple[str, str]]) -> str | None:
    """The name the secret belongs to, or None."""
    if not secret:
        return None
    found = None
    for name, known in credentials:
        # No early exit: the time taken does not tell which entry matched.
        if hmac.compare_digest(secret.encode(), known.encode()):
            found = name
    return found
