"""Waiting for something that happens asynchronously (an event consumed, a timer fired)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], timeout: float = 60, interval: float = 0.2
) -> T:
    """Call ``check`` until it returns something truthy, and return that; fail after
    ``timeout`` seconds. A bound on waiting, not a speed assertion."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(interval)
