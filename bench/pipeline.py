"""The whole pipeline end to end: intake, escalation, follow-up and satisfaction as real
processes on fresh databases and this run's own topics; an open-loop client posts complaints
at fixed rates and reads ``case.opened`` from the handling topic.

Per rate: accepted, errors, POST p50/p99, POST -> case.opened p50/p99, and the CPU time each
process spent per accepted complaint (services, their PostgreSQL backends, the server's
background processes, the Kafka broker), measured from the first request until every
consumer group of the run has caught up. First each process's CPU at rest (no load), then an
idle run (10/s) for the latency when nothing queues. The client's own CPU and its lag behind
the send schedule are printed with each rate: when they stay small, the figures are the
platform's, not the client's.

Environment: BENCH_E2E_RATES (25,50,100,150,200,300,400,500: past 200 to find where it ends),
BENCH_E2E_SECONDS (20), BENCH_E2E_IDLE_RATE (10; 0 skips), BENCH_E2E_IDLE_SECONDS (20),
BENCH_E2E_REST_SECONDS (20: each process's CPU per second with no load at all, printed first;
0 skips), BENCH_E2E_DRAIN_SECONDS (90: the longest wait for a rate's backlog; a rate that does
not drain ends the run), BENCH_E2E_SERVICES (see bench/_stack.py), BENCH_E2E_PROFILE (service
names: py-spy samples them through the rates, collapsed stacks written to
.local/bench-profile-<service>.txt)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import asyncpg
import uvloop

from bench._cpu import CpuMeter, spent
from bench._db import ADMIN_DSN, database_dsn
from bench._openloop import OpenedReader, Step, client_session, offer, percentile
from bench._stack import API_KEY, Stack, running_stack, services_from_env, wait_drained
from bench.intake import body
from tests.support.servers import ROOT

RATES = [
    float(r) for r in os.environ.get("BENCH_E2E_RATES", "25,50,100,150,200,300,400,500").split(",")
]
SECONDS = float(os.environ.get("BENCH_E2E_SECONDS", "20"))
IDLE_RATE = float(os.environ.get("BENCH_E2E_IDLE_RATE", "10"))
IDLE_SECONDS = float(os.environ.get("BENCH_E2E_IDLE_SECONDS", "20"))
REST_SECONDS = float(os.environ.get("BENCH_E2E_REST_SECONDS", "20"))
DRAIN_SECONDS = float(os.environ.get("BENCH_E2E_DRAIN_SECONDS", "90"))
P99_GOAL_MS = 500


class Measured:
    def __init__(self, step: Step, seen: dict[str, float], cpu: dict[str, float], drained):
        self.step = step
        self.opened = step.opened_ms(seen)
        self.unopened = step.unopened(seen)
        self.cpu = cpu
        self.drained = drained  # seconds after the last answer, or None

    def sustained(self) -> bool:
        s = self.step
        return (
            s.accepted == s.offered
            and not self.unopened
            and self.drained is not None
            and percentile(self.opened, 99) < P99_GOAL_MS
        )


async def run_step(
    stack: Stack, reader: OpenedReader, meter: CpuMeter, rate: float, seconds: float, first: int
) -> Measured:
    url = stack.intake_url + "/complaints"
    before = await meter.snapshot()
    async with client_session() as session:
        step = await offer(session, url, {"X-API-Key": API_KEY}, body, rate, seconds, first)
    await reader.wait_for(list(step.sent_at), DRAIN_SECONDS)
    drained = await wait_drained(stack.topics, DRAIN_SECONDS)
    cpu = spent(before, await meter.snapshot())
    return Measured(step, reader.seen, cpu, drained)


async def per_service(stack: Stack, query: str, *args: object) -> dict[str, asyncpg.Record]:
    """``query``'s one row in each service's database."""
    rows = {}
    for service, database in stack.databases.items():
        conn = await asyncpg.connect(database_dsn(database))
        try:
            rows[service] = await conn.fetchrow(query, *args)
        finally:
            await conn.close()
    return rows


async def outbox_waits(stack: Stack, since: datetime) -> str:
    """Per service: from an event's transaction to its relay's publishing round (the outbox
    rows' created_at -> sent_at), p50/p99 in ms: the relays' share of the latency."""
    rows = await per_service(
        stack,
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY w) AS p50,"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY w) AS p99, count(*) AS n FROM ("
        " SELECT extract(epoch FROM sent_at - created_at) * 1000 AS w FROM outbox"
        " WHERE created_at >= $1 AND sent_at IS NOT NULL) t",
        since,
    )
    parts = [
        f"{service} p50 {row['p50']:.1f} p99 {row['p99']:.1f} ms"
        for service, row in rows.items()
        if row["n"]
    ]
    return "outbox -> relay round: " + ", ".join(parts)


async def at_rest(stack: Stack, meter: CpuMeter) -> str:
    """CPU per second of each process with no load at all (the consumers caught up). Every
    rate pays it, shared among its complaints: 5 ms a second is 0.2 ms per complaint at 25/s."""
    await wait_drained(stack.topics, DRAIN_SECONDS)
    before = await meter.snapshot()
    await asyncio.sleep(REST_SECONDS)
    cpu = spent(before, await meter.snapshot())
    parts = ", ".join(
        f"{label} {1000 * seconds / REST_SECONDS:.1f}" for label, seconds in cpu.items()
    )
    return f"at rest ({REST_SECONDS:.0f} s, no load), CPU ms per second: {parts}"


async def outbox_unsent(stack: Stack) -> dict[str, int]:
    """Per service: the outbox rows not published (nor discarded) yet. After a run has drained
    they should all be 0; a complaint never seen opened while escalation still holds its
    event here is a stalled relay, not a lost event."""
    rows = await per_service(
        stack, "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND discarded_at IS NULL"
    )
    return {service: row[0] for service, row in rows.items()}


def describe(m: Measured) -> str:
    s = m.step
    errors = ", ".join(f"{k} x{v}" for k, v in s.errors.items()) or "0"
    shed = f" 503 {s.shed}" if s.shed else ""
    return (
        f"{s.rate:6.0f}/s  offered {s.offered:5d}  accepted {s.accepted:5d}{shed}  errors {errors}"
        f"  POST p50 {percentile(s.post_ms, 50):7.1f} p99 {percentile(s.post_ms, 99):7.1f} ms"
        f"  ->case.opened p50 {percentile(m.opened, 50):7.1f} p99 {percentile(m.opened, 99):7.1f}"
        f" ms{f'  (never opened: {m.unopened})' if m.unopened else ''}"
        f"  drained {'no' if m.drained is None else f'{m.drained:.1f}s'}"
    )


def client_line(s: Step) -> str:
    return (
        f"         client: {100 * s.generator_cpu / max(s.wall, 1e-9):4.0f}% of one core,"
        f" send-schedule lag p99 {percentile(s.send_lag_ms, 99):.1f} ms"
        f" max {max(s.send_lag_ms, default=0):.1f} ms"
    )


def cpu_table(results: list[Measured]) -> None:
    labels = list(results[0].cpu)
    print("\nCPU per accepted complaint (ms), from the first request until the consumers drained")
    print(f"{'process':<34}" + "".join(f"{m.step.rate:>9.0f}/s" for m in results))
    shared = {"postgres (server background)", "kafka broker"}
    for label in labels:
        print(
            f"{label:<34}"
            + "".join(f"{1000 * m.cpu[label] / max(m.step.accepted, 1):>11.2f}" for m in results)
        )
    for title, chosen in (
        ("total, the run's own processes", [x for x in labels if x not in shared]),
        ("total, with the shared servers", labels),
    ):
        print(
            f"{title:<34}"
            + "".join(
                f"{1000 * sum(m.cpu[x] for x in chosen) / max(m.step.accepted, 1):>11.2f}"
                for m in results
            )
        )
    print("(the broker and the server's background processes serve every user of the machine)")


def profile(stack: Stack) -> list[subprocess.Popen]:
    """py-spy on the services named by BENCH_E2E_PROFILE (``pip install py-spy``)."""
    spies = []
    for name in filter(None, os.environ.get("BENCH_E2E_PROFILE", "").split(",")):
        out = os.path.join(ROOT, ".local", f"bench-profile-{name}.txt")
        spies.append(
            subprocess.Popen(
                [os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "--nonblocking",
                 "-r", "100", "-f", "raw", "-o", out, "-p", str(stack.pids()[name])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
    return spies


async def main() -> None:
    services = services_from_env()
    print(f"services: {', '.join(services)}; {SECONDS:.0f} s per rate; open loop (aiohttp, uvloop)")
    async with running_stack(services) as stack:
        meter = CpuMeter(ADMIN_DSN, stack.pids(), stack.databases)
        reader = OpenedReader(stack.topics.handling)
        await reader.start()
        try:
            first = 0
            # Warm-up: connections, prepared statements, consumer group joins.
            warm = await run_step(stack, reader, meter, 10, 3, first)
            first += warm.step.offered
            if REST_SECONDS > 0:
                print(await at_rest(stack, meter), flush=True)
            if IDLE_RATE > 0:
                since = datetime.now(UTC)
                idle = await run_step(stack, reader, meter, IDLE_RATE, IDLE_SECONDS, first)
                first += idle.step.offered
                print(f"idle: {describe(idle)}\n{client_line(idle.step)}", flush=True)
                print(f"         {await outbox_waits(stack, since)}", flush=True)
            results: list[Measured] = []
            profilers = profile(stack)
            for rate in RATES:
                print(f"  {rate:.0f}/s for {SECONDS:.0f} s...", file=sys.stderr, flush=True)
                measured = await run_step(stack, reader, meter, rate, SECONDS, first)
                first += measured.step.offered
                results.append(measured)
                print(f"{describe(measured)}\n{client_line(measured.step)}", flush=True)
                if measured.drained is None:
                    print(f"  no drain in {DRAIN_SECONDS:.0f} s: higher rates skipped")
                    break
        finally:
            await reader.stop()
            for spy in profilers:
                spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled, then exits
                spy.wait(30)
    if results:
        cpu_table(results)
        ok = [m.step.rate for m in results if m.sustained()]
        print(
            f"\nsustained rate (all accepted, POST -> case.opened p99 < {P99_GOAL_MS} ms): "
            f"{max(ok):.0f}/s"
            if ok
            else "\nsustained rate: none of the rates offered"
        )
    if IDLE_RATE > 0:
        print(
            f"latency when idle ({IDLE_RATE:.0f}/s): POST -> case.opened p50 "
            f"{percentile(idle.opened, 50):.1f} ms, p99 {percentile(idle.opened, 99):.1f} ms"
        )


def run() -> None:
    uvloop.run(main())


if __name__ == "__main__":
    run()
