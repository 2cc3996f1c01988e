"""Fresh databases for a test session: created on the test server, migrated, dropped after."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from shared.migrations import upgrade_async
from tests.support.servers import ROOT, Servers


def migrations_of(service: str) -> Path:
    return Path(ROOT) / "services" / service / "migrations"


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Databases:
    def __init__(self, servers: Servers) -> None:
        self.servers = servers
        self.created: list[str] = []

    async def create(self, service: str, migrate: bool = True) -> str:
        name = f"test_{service}_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(_plain(self.servers.admin_database_url))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        url = self.servers.database_url(name)
        if migrate:
            await upgrade_async(migrations_of(service), url)
        return url

    async def drop_all(self) -> None:
        conn = await asyncpg.connect(_plain(self.servers.admin_database_url))
        try:
            for name in self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
