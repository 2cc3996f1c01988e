"""A bounded HTTP load: N requests at a fixed concurrency, latency percentiles."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        return self.percentile(99)


async def load(
    url: str,
    body: Callable[[int], dict],
    headers: dict[str, str],
    requests: int,
    concurrency: int,
    label: str,
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                started = time.perf_counter()
                try:
                    response = await client.post(url, json=body(i), headers=headers)
                    ok = response.status_code == 201
                except httpx.TransportError as exc:
                    print(f"  {label}: {exc!r}", file=sys.stderr)
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok
                if len(latencies) % max(1, requests // 10) == 0:
                    print(f"  {label}: {len(latencies)}/{requests}", file=sys.stderr, flush=True)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return LoadResult(requests, errors, seconds, latencies)
