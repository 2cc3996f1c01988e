"""``make bench``: every benchmark module in this package, in turn, printing its figures.

``BENCH_ONLY=intake,escalation make bench`` runs a selection. Each module has ``run()``."""

from __future__ import annotations

import asyncio
import importlib
import os
import pkgutil
import sys
import time

import bench
from bench._db import KAFKA
from bench._machine import check
from tests.support.topics import leftover_topics


def warn_of_leftovers() -> None:
    """Topics killed runs left on the broker cost it CPU: the figures would be worse."""
    found = asyncio.run(leftover_topics(KAFKA))
    if found:
        print(f"note: the broker holds {len(found)} topics of earlier test or bench runs; they "
              "cost it CPU and skew these figures (`make clean-topics` deletes them)")  # fmt: skip


def main() -> None:
    warn_of_leftovers()
    print(check(), flush=True)
    only = {n for n in os.environ.get("BENCH_ONLY", "").split(",") if n}
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")
    )
    for name in names:
        if only and name not in only:
            continue
        print(f"\n=== bench: {name} ===", flush=True)
        started = time.monotonic()
        importlib.import_module(f"bench.{name}").run()
        print(f"=== {name} done in {time.monotonic() - started:.0f}s ===", flush=True)
    print(f"\nat the end, {check()}")  # the host's load may have changed meanwhile


if __name__ == "__main__":
    sys.exit(main())
