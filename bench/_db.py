"""Scratch databases for benchmarks: created on the local (or given) server, dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from shared.migrations import upgrade_async
from tests.support.servers import ROOT

ADMIN_DSN = os.environ.get(
    "BENCH_ADMIN_DSN", "postgresql://complaints:complaints@127.0.0.1:54320/postgres"
)
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
# The local single broker: one copy of each topic (shared.messaging.admin defaults to 3/2).
os.environ.setdefault("KAFKA_REPLICATION_FACTOR", "1")
os.environ.setdefault("KAFKA_MIN_INSYNC_REPLICAS", "1")


def async_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


def database_dsn(name: str) -> str:
    """The plain ``postgresql://`` DSN of database ``name`` on the benchmarks' server."""
    return ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"


@asynccontextmanager
async def scratch_database(service: str, migrate: bool = True) -> AsyncIterator[str]:
    """A fresh database, with ``service``'s migrations applied unless ``migrate`` is false;
    yields its plain ``postgresql://`` DSN and drops it afterwards."""
    name = f"bench_{service}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = database_dsn(name)
    try:
        if migrate:
            await upgrade_async(Path(ROOT) / "services" / service / "migrations", async_url(dsn))
        yield dsn
    finally:
        admin = await asyncpg.connect(ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
