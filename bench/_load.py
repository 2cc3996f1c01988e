"""A bounded HTTP load: N requests at a fixed concurrency, latency percentiles."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

JSON = {"Content-Type": "application/json"}


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    fixed: tuple[float, float] | None = None  # p50, p99 in ms, when measured elsewhere (wrk)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        if self.fixed is not None:
            return self.fixed[0] if p == 50 else self.fixed[1]
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def p50(self) -> float:
        return self.fixed[0] if self.fixed else statistics.median(self.latencies_ms)

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


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
for name, value in string.gmatch(os.getenv("WRK_HEADERS"), "([^:\\n]+):([^\\n]*)") do
  wrk.headers[name] = value
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_load(
    url: str, body: dict, headers: dict[str, str], seconds: int, connections: int
) -> LoadResult:
    """The same load from wrk (C, two threads): the client costs far less CPU than the server,
    so the figures are the server's. Every request carries the same body."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT)
    env = os.environ | {
        "WRK_BODY": json.dumps(body, ensure_ascii=False),
        "WRK_HEADERS": "\n".join(f"{k}:{v}" for k, v in (headers | JSON).items()),
    }
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
            env=env, capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    line = next(row for row in out.splitlines() if row.startswith("RESULT "))
    requests, errors, micros, p50, p99 = (int(x) for x in line.split()[1:])
    result = LoadResult(requests, errors, micros / 1e6, [])
    result.fixed = (p50 / 1000, p99 / 1000)
    return result
