"""End-to-end fixtures: services as real processes on this run's topics and fresh databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from shared.events.topics import Topics
from tests.support.databases import Databases
from tests.support.identity import STAFF, auth_env, token
from tests.support.processes import ServiceProcess
from tests.support.servers import Servers

INTAKE_KEYS = {"web": "test-web-key", "hotline": "test-hotline-key", "counter": "test-counter-key"}
# Bearer JWTs of the test issuer (tests/support/identity.py) for people of the demo staff
# directory playing each role: OPS_TOKENS["agent"] is Li Wei's, ["supervisor"] Wang Fang's.
OPS_TOKENS = {role: token(person) for role, person in STAFF.items()}

StartService = Callable[..., Awaitable[ServiceProcess]]


def base_env(servers: Servers, topics: Topics) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": servers.kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": topics.prefix,
        "INTAKE_API_KEYS": ",".join(f"{c}:{k}" for c, k in INTAKE_KEYS.items()),
        **auth_env(),
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
async def start_service(
    servers: Servers, topics: Topics, databases: Databases
) -> AsyncIterator[StartService]:
    """``await start_service("intake", EXTRA_ENV="...")``: a fresh database, migrations run by
    the service itself at start, then wait until it answers /healthz. Stopped at teardown.
    Pass ``database_url=`` to restart a service on the database of an earlier process."""
    started: list[ServiceProcess] = []

    async def start(name: str, database_url: str | None = None, **env: str) -> ServiceProcess:
        url = database_url or await databases.create(name, migrate=False)
        process = ServiceProcess(
            name, base_env(servers, topics) | {f"{name.upper()}_DATABASE_URL": url} | env
        )
        process.database_url = url  # type: ignore[attr-defined]
        started.append(process)
        # In a thread: the test's event loop keeps serving (a TcpProxy in front of the
        # database, say) while the process starts.
        await asyncio.to_thread(process.start)
        return process

    yield start
    for process in started:
        process.stop()
