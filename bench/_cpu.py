"""Process CPU time from /proc: the services, the PostgreSQL backends of given databases, the
PostgreSQL server's own background processes and the Kafka broker's JVM.

A snapshot maps each label to {pid: CPU seconds}; the difference of two snapshots is the CPU
spent between them. A process born between the snapshots counts whole; one that died in
between is missed (the services' pooled connections live through a run)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

import asyncpg

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
Snapshot = dict[str, dict[int, float]]

# The server's own processes (not a client's backend): shared by every database on it.
_PG_BACKGROUND = re.compile(
    r"^postgres: (?:checkpointer|background writer|walwriter|autovacuum|logical replication"
    r"|stats|archiver|walsender)"
)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of ``pid`` so far, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def _cmdlines() -> Iterable[tuple[int, str]]:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                yield int(entry), f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue


def kafka_broker_pids() -> list[int]:
    return [pid for pid, cmd in _cmdlines() if " kafka.Kafka " in f" {cmd} "]


def postgres_background_pids() -> list[int]:
    return [pid for pid, cmd in _cmdlines() if _PG_BACKGROUND.match(cmd)]


class CpuMeter:
    """``services``: label -> pid; ``databases``: label -> database name whose backends count
    for that label (a service's own database)."""

    def __init__(self, admin_dsn: str, services: dict[str, int], databases: dict[str, str]):
        self.admin_dsn = admin_dsn
        self.services = services
        self.databases = databases
        self.broker = kafka_broker_pids()

    async def _backends(self) -> dict[str, list[int]]:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            rows = await conn.fetch(
                "SELECT pid, datname FROM pg_stat_activity WHERE datname = ANY($1::text[])",
                list(self.databases.values()),
            )
        finally:
            await conn.close()
        by_db: dict[str, list[int]] = {}
        for row in rows:
            by_db.setdefault(row["datname"], []).append(row["pid"])
        return {label: by_db.get(db, []) for label, db in self.databases.items()}

    async def snapshot(self) -> Snapshot:
        pids: dict[str, list[int]] = {label: [pid] for label, pid in self.services.items()}
        for label, backends in (await self._backends()).items():
            pids[f"postgres ({label} db)"] = backends
        pids["postgres (server background)"] = postgres_background_pids()
        pids["kafka broker"] = self.broker
        snap: Snapshot = {}
        for label, group in pids.items():
            values = {pid: cpu_seconds(pid) for pid in group}
            snap[label] = {pid: v for pid, v in values.items() if v is not None}
        return snap


def spent(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds per label between two snapshots."""
    return {
        label: sum(max(0.0, cpu - before.get(label, {}).get(pid, 0.0)) for pid, cpu in now.items())
        for label, now in after.items()
    }
