"""Fixtures shared by integration and end-to-end tests. Unit tests use none of them, so a
unit-only run starts no server."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from tests.support.databases import Databases
from tests.support.servers import Servers, provide_servers
from tests.support.topics import delete_topics_with_prefix

# The test servers are a single broker: one copy of each topic (production defaults are 3/2).
# Set here, before any fixture or service process reads them.
os.environ.setdefault("KAFKA_REPLICATION_FACTOR", "1")
os.environ.setdefault("KAFKA_MIN_INSYNC_REPLICAS", "1")


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    with provide_servers() as found:
        yield found


@pytest.fixture(scope="session")
async def topics(servers: Servers) -> AsyncIterator[Topics]:
    """This run's own topics (a unique prefix), so concurrent runs never see each other.
    Deleted at the end with every topic a test derived from the prefix."""
    prefix = f"test-{uuid.uuid4().hex[:8]}."
    found = Topics(prefix)
    await ensure_topics(servers.kafka_bootstrap, found.all(), partitions=3)
    yield found
    await delete_topics_with_prefix(servers.kafka_bootstrap, prefix)


@pytest.fixture(scope="session")
async def databases(servers: Servers) -> AsyncIterator[Databases]:
    found = Databases(servers)
    yield found
    await found.drop_all()
