"""Signed webhooks: ``X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` over
``"<t>." + body``. The timestamp inside the signed text lets a receiver refuse replays
older than its tolerance; ``verify`` is what a receiver (a chat bridge, a pager, the SMS
gateway) runs."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Signature"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: bytes, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is at most ``tolerance``
    seconds old."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
