from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from shared.events.topics import dead_letter
from shared.messaging.admin import ensure_topics
from tests.support.databases import Databases


@pytest.fixture
async def messaging_engine(databases: Databases) -> AsyncIterator[AsyncEngine]:
    """A fresh database with the outbox and inbox tables (intake's migrations create them)."""
    engine = create_engine(await databases.create("intake"), pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
async def fresh_topic(servers, topics) -> str:
    """A topic (and its dead-letter topic) of this test's own, so no other test's records
    are in the way."""
    name = f"{topics.prefix}solo-{uuid.uuid4().hex[:8]}"
    await ensure_topics(servers.kafka_bootstrap, [name, dead_letter(name)], partitions=3)
    return name
