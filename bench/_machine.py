"""How fast this machine is right now, so figures of different runs can be compared.

The development machine is a virtual one: the same code measured an hour apart on it has
differed by a quarter, because the host's load varies. ``make bench`` prints this check at its
start and end; figures of two runs compare only when their checks agree."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

import uvloop

_DOCUMENT = {
    "customer": {"id": "c1", "name": "李娜", "phone": "+86 138 0013 8000", "tier": "B"},
    "category": "product_quality",
    "description": "洗衣机漏水，已经维修两次仍未解决。" * 4,
    "subject": {"kind": "order", "reference": "SO-1", "purchased_on": "2026-10-01"},
    "history": [{"at": f"2026-10-{d:02d}", "status": "open", "level": d % 4} for d in range(1, 29)],
}


def python_workload_ms(rounds: int = 4000) -> float:
    """CPU milliseconds of a fixed piece of Python of the kind the services run (JSON in and
    out, dictionaries, strings, a hash): the best of three, as the other two may be
    interrupted."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for i in range(rounds):
            text = json.dumps(_DOCUMENT, ensure_ascii=False)
            decoded = json.loads(text)
            decoded["customer"]["id"] = f"c{i}"
            hashlib.sha256(text.encode()).hexdigest()
            sorted(decoded["history"], key=lambda h: (h["level"], h["at"]))
        best = min(best, time.process_time() - started)
    return best * 1000


def loop_wake_us(wakes: int = 500) -> float:
    """CPU microseconds an event loop spends to sleep and wake once: what every event costs a
    service at a low rate, before any work."""

    async def sleeper() -> float:
        started = time.process_time()
        for _ in range(wakes):
            await asyncio.sleep(0.002)
        return (time.process_time() - started) / wakes * 1e6

    return uvloop.run(sleeper())


def check() -> str:
    return (
        f"machine check: a fixed Python workload {python_workload_ms():.0f} ms of CPU, one "
        f"event-loop wake {loop_wake_us():.0f} us (figures of two runs compare when these agree)"
    )
