"""Durations as operators write them in the policy: ``"90m"``, ``"3d"``, ``"1.5h"``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_duration(text: str | int | float) -> timedelta:
    """A number with a unit; a bare number is seconds. Raises ValueError otherwise."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        found = _DURATION.match(str(text))
        if found is None:
            raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 90m, 4h, 3d)")
        seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return timedelta(seconds=seconds)
