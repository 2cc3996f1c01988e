"""Durations as operators write them in policy files: ``90`` (seconds), ``"15m"``, ``"2h"``,
``"1h30m"``, ``"2.5s"``, ``"3d"``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)")
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: Any) -> timedelta:
    """Raises ValueError on anything else (negative, unknown unit, trailing words)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or like 15m, 2h, 1h30m")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        parts = _PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
            raise ValueError(f"{value!r} is not a duration (like 90, 15m, 2h, 1h30m)")
        seconds = sum(float(n) * _UNIT[u] for n, u in parts)
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return timedelta(seconds=seconds)
