"""A transaction's outbox rows in one statement (``unnest`` over arrays): the same rows
``shared.messaging.outbox.add`` writes, which sends one execution per row. The CloudEvents
come from ``shared.events.outgoing``, written from the event's data dumped once (its
timeline row has the same data)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.outgoing import Outgoing
from shared.messaging.outbox import shard_of

# One SQL text whatever the number of rows: prepared once per connection. ``json``, not
# ``jsonb``: the relay publishes the exact bytes written here.
_ADD = sa.text(
    "INSERT INTO outbox (event_id, topic, key, shard, event_type, payload) "
    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:topics AS text[]), "
    "CAST(:keys AS text[]), CAST(:shards AS smallint[]), CAST(:types AS text[]), "
    "CAST(:payloads AS json[]))"
)


async def add(session: AsyncSession, topic: str, events: Sequence[Outgoing]) -> None:
    """Write ``events`` to the outbox, in their order (the relay publishes by row id)."""
    if events:
        await session.execute(_ADD, params(topic, events))


def params(topic: str, events: Sequence[Outgoing]) -> dict[str, list[Any]]:
    return {
        "ids": [e.id for e in events],
        "topics": [topic] * len(events),
        "keys": [e.subject for e in events],
        "shards": [shard_of(e.subject) for e in events],
        "types": [e.type for e in events],
        "payloads": [e.payload for e in events],
    }
