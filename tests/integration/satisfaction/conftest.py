from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services.satisfaction.settings import SatisfactionSettings
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from tests.support.databases import Databases
from tests.support.servers import Servers
from tests.support.topics import delete_topics_with_prefix


@pytest.fixture
async def own_topics(servers: Servers) -> AsyncIterator[Topics]:
    """Topics of this test alone: the run's shared topics carry other tests' complaints."""
    found = Topics(f"test-sat-{uuid.uuid4().hex[:8]}.")
    await ensure_topics(servers.kafka_bootstrap, found.all(), partitions=3)
    yield found
    await delete_topics_with_prefix(servers.kafka_bootstrap, found.prefix)


@pytest.fixture
async def settings(
    servers: Servers, databases: Databases, own_topics: Topics
) -> AsyncIterator[SatisfactionSettings]:
    yield SatisfactionSettings(
        database_url=await databases.create("satisfaction"),
        kafka_bootstrap_servers=servers.kafka_bootstrap,
        kafka_topic_prefix=own_topics.prefix,
        ops_tokens="frontline-li:agent-token,admin-ops:admin-token",
        survey_valid_seconds=3600,
    )
