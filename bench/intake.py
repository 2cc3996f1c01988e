"""Intake throughput and latency at a fixed concurrency, next to a bare FastAPI endpoint doing
one asyncpg insert, measured in the same run on the same machine with the same client.

Both servers are single uvicorn processes; the load generator is a third process's worth of
CPU on the same 2 cores, so absolute figures understate a real deployment: the ratio is the
point."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import asyncpg
import httpx

from bench._cpu import cpu_seconds
from bench._db import KAFKA, scratch_database
from bench._load import LoadResult, load, wrk_available, wrk_load
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from tests.support.processes import free_port
from tests.support.servers import ROOT
from tests.support.topics import delete_topics_with_prefix

REQUESTS = int(os.environ.get("BENCH_INTAKE_REQUESTS", "4000"))
SECONDS = int(os.environ.get("BENCH_INTAKE_SECONDS", "20"))
CONCURRENCY = int(os.environ.get("BENCH_INTAKE_CONCURRENCY", "32"))
KEY = "bench-web-key"


def body(i: int) -> dict:
    return {
        "customer": {
            "id": f"c{i % 500}",
            "name": "李娜",
            "phone": "+86 138 0013 8000",
            "tier": "B",
        },
        "category": "product_quality",
        "description": f"第{i}号投诉：洗衣机漏水，已经维修两次仍未解决。",
        "subject": {"kind": "order", "reference": f"SO-{i}", "purchased_on": "2026-10-01"},
        "expected_outcome": {"kind": "exchange"},
    }


def start(name: str, args: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    with open(os.path.join(ROOT, ".local", f"bench-{name}.log"), "wb") as log:
        proc = subprocess.Popen(args, cwd=ROOT, env=os.environ | env, stdout=log, stderr=log)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{args} did not start")


async def outbox_drained(dsn: str, timeout: float = 120) -> float:
    conn = await asyncpg.connect(dsn)
    started = time.perf_counter()
    try:
        while await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"):
            if time.perf_counter() - started > timeout:
                break
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return time.perf_counter() - started


def report(label: str, r: LoadResult) -> None:
    print(
        f"{label:<28} {r.throughput:8.0f} req/s   p50 {r.p50:6.1f} ms   p99 {r.p99:6.1f} ms"
        f"   errors {r.errors}"
    )


async def main() -> None:
    topics = Topics(f"bench-{uuid.uuid4().hex[:8]}.")
    await ensure_topics(KAFKA, topics.all(), partitions=6)
    try:
        async with (
            scratch_database("intake") as intake_dsn,
            scratch_database("bare", False) as bare_dsn,
        ):
            await measure(topics, intake_dsn, bare_dsn)
    finally:
        await delete_topics_with_prefix(KAFKA, topics.prefix)  # the broker keeps files open


async def measure(topics: Topics, intake_dsn: str, bare_dsn: str) -> None:
    procs: list[subprocess.Popen] = []
    try:
        intake_port, bare_port = free_port(), free_port()
        procs.append(
            start(
                "intake",
                [sys.executable, "-m", "services.intake"],
                {
                    "INTAKE_PORT": str(intake_port),
                    "INTAKE_DATABASE_URL": intake_dsn,
                    "INTAKE_API_KEYS": f"web:{KEY}",
                    "INTAKE_LOG_LEVEL": "WARNING",
                    "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
                    "KAFKA_TOPIC_PREFIX": topics.prefix,
                },
                intake_port,
            )
        )
        procs.append(
            start(
                "bare",
                [sys.executable, "-m", "uvicorn", "bench._bare_app:app", "--port", str(bare_port),
                 "--log-level", "warning", "--no-access-log"],
                {"BARE_DATABASE_DSN": bare_dsn},
                bare_port,
            )
        )  # fmt: skip
        headers = {"X-API-Key": KEY}
        servers = (("bare FastAPI + 1 insert", bare_port), ("intake POST /complaints", intake_port))
        bare_label, intake_label = (label for label, _ in servers)
        pids = {intake_label: procs[0].pid, bare_label: procs[1].pid}
        results = {}
        cpu: dict[str, float] = {}  # the server process's CPU seconds during its measured run
        if wrk_available():
            print(f"wrk, {CONCURRENCY} connections, {SECONDS} s per server (after a warm-up)")
            for label, port in servers:
                url = f"http://127.0.0.1:{port}/complaints"
                await asyncio.to_thread(wrk_load, url, body(0), headers, 3, CONCURRENCY)
                print(f"  {label}...", file=sys.stderr, flush=True)
                before = cpu_seconds(pids[label]) or 0.0
                results[label] = await asyncio.to_thread(
                    wrk_load, url, body(0), headers, SECONDS, CONCURRENCY
                )
                cpu[label] = (cpu_seconds(pids[label]) or 0.0) - before
        else:
            print(f"(no wrk: apt-get install wrk) httpx, {REQUESTS} POSTs at concurrency "
                  f"{CONCURRENCY}; the Python client's own CPU weighs on both")  # fmt: skip
            for label, port in servers:
                url = f"http://127.0.0.1:{port}/complaints"
                await load(url, body, headers, 200, CONCURRENCY, f"{label} warm-up")
                before = cpu_seconds(pids[label]) or 0.0
                results[label] = await load(url, body, headers, REQUESTS, CONCURRENCY, label)
                cpu[label] = (cpu_seconds(pids[label]) or 0.0) - before
        drain = await outbox_drained(intake_dsn)
        print()
        for label, result in results.items():
            report(label, result)
            print(f"{'':<28} {1000 * cpu[label] / max(result.requests, 1):8.2f} ms of the server's"
                  " CPU per request")  # fmt: skip
        bare, intake = results[bare_label], results[intake_label]
        per_request = {label: cpu[label] / max(r.requests, 1) for label, r in results.items()}
        print(
            f"{'intake / bare':<28} {intake.throughput / bare.throughput:8.2f}x throughput"
            f"   p50 {intake.p50 / bare.p50:5.2f}x   p99 {intake.p99 / bare.p99:5.2f}x"
        )
        ratio = per_request[intake_label] / per_request[bare_label]
        print(f"{'':<28} {ratio:8.2f}x CPU per request (steadier than throughput on a busy"
              " machine)")  # fmt: skip
        print(f"outbox fully published {drain:.2f}s after the last request")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(15)


def run() -> None:
    asyncio.run(main())
