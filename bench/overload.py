"""Past capacity: the whole stack (as in bench/pipeline.py) offered twice its sustainable rate
for 30 s, open loop. Intake sheds what it cannot take (503 + Retry-After, at once: its
bounded concurrency and queue, INTAKE_MAX_CONCURRENT_REQUESTS / INTAKE_MAX_QUEUED_REQUESTS /
INTAKE_QUEUE_WAIT_SECONDS); the accepted requests keep a bounded p99; afterwards the
consumers' lag drains at their full rate.

Prints accepted, shed, other errors, POST p99 of the accepted and of the shed, POST ->
case.opened p50/p99 of the accepted, each service's outbox rows still unpublished after the
wait (a stalled relay shows there), and the time from the last answer until every consumer
group of the run has caught up (and the rate it drained at).

Environment: BENCH_OVERLOAD_SUSTAINABLE (400/s: the "sustained rate" bench/pipeline.py
measured on the quiet 2-core machine, every request accepted and POST -> case.opened p99
under 500 ms; at 500/s intake already sheds some), BENCH_OVERLOAD_FACTOR (2),
BENCH_OVERLOAD_SECONDS (30), BENCH_OVERLOAD_DRAIN_SECONDS (300: the longest wait for the
backlog)."""

from __future__ import annotations

import os

import uvloop

from bench._openloop import OpenedReader, client_session, offer, percentile
from bench._stack import API_KEY, consumer_lag, running_stack, services_from_env, wait_drained
from bench.intake import body
from bench.pipeline import outbox_unsent

SUSTAINABLE = float(os.environ.get("BENCH_OVERLOAD_SUSTAINABLE", "400"))
FACTOR = float(os.environ.get("BENCH_OVERLOAD_FACTOR", "2"))
SECONDS = float(os.environ.get("BENCH_OVERLOAD_SECONDS", "30"))
DRAIN_SECONDS = float(os.environ.get("BENCH_OVERLOAD_DRAIN_SECONDS", "300"))


async def main() -> None:
    rate = SUSTAINABLE * FACTOR
    services = services_from_env()
    print(f"services: {', '.join(services)}; offering {rate:.0f}/s "
          f"({FACTOR:g}x {SUSTAINABLE:.0f}/s) for {SECONDS:.0f} s, open loop")  # fmt: skip
    async with running_stack(services) as stack:
        reader = OpenedReader(stack.topics.handling)
        await reader.start()
        try:
            url = stack.intake_url + "/complaints"
            headers = {"X-API-Key": API_KEY}
            async with client_session() as session:
                await offer(session, url, headers, body, 10, 2)  # warm-up
                await wait_drained(stack.topics, 60)
                step = await offer(session, url, headers, body, rate, SECONDS, 1000)
            backlog = await consumer_lag(stack.topics)
            drained = await wait_drained(stack.topics, DRAIN_SECONDS)
            await reader.wait_for(list(step.sent_at), 30)
            unsent = await outbox_unsent(stack)
        finally:
            await reader.stop()
    opened = step.opened_ms(reader.seen)
    errors = ", ".join(f"{k} x{v}" for k, v in step.errors.items()) or "0"
    print(f"offered   {step.offered} ({step.offered / SECONDS:.0f}/s)")
    print(f"accepted  {step.accepted} ({step.accepted / SECONDS:.0f}/s)"
          f"   POST p50 {percentile(step.post_ms, 50):.0f} ms,"
          f" p99 {percentile(step.post_ms, 99):.0f} ms")  # fmt: skip
    print(f"shed      {step.shed} (503 + Retry-After)   answered p99 "
          f"{percentile(step.shed_ms, 99):.0f} ms")  # fmt: skip
    print(f"errors    {errors}")
    print(f"POST -> case.opened of the accepted: p50 {percentile(opened, 50):.0f} ms,"
          f" p99 {percentile(opened, 99):.0f} ms;"
          f" never opened {step.unopened(reader.seen)}")  # fmt: skip
    print("outbox rows not yet published at the end: "
          + ", ".join(f"{service} {count}" for service, count in unsent.items()))  # fmt: skip
    if drained is None:
        print(f"consumers' lag: {backlog} records at the last answer, not drained in "
              f"{DRAIN_SECONDS:.0f} s")  # fmt: skip
    else:
        print(f"consumers' lag: {backlog} records at the last answer, drained "
              f"{drained:.1f} s later ({backlog / max(drained, 1e-3):.0f} records/s)")  # fmt: skip
    print(f"client: send-schedule lag p99 {percentile(step.send_lag_ms, 99):.1f} ms,"
          f" {100 * step.generator_cpu / max(step.wall, 1e-9):.0f}% of one core")  # fmt: skip


def run() -> None:
    uvloop.run(main())


if __name__ == "__main__":
    run()
