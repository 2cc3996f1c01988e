from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from tests.support.databases import Databases


@pytest.fixture
async def messaging_engine(databases: Databases) -> AsyncIterator[AsyncEngine]:
    """A fresh database with the outbox and inbox tables (intake's migrations create them)."""
    engine = create_engine(await databases.create("intake"), pool_size=4)
    yield engine
    await engine.dispose()
