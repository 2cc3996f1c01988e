"""The inbox: the ids of the events a service has processed, written in the same transaction
as the effect, so a redelivered event has no second effect."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.envelope import Envelope

_CLAIM = sa.text(
    "INSERT INTO inbox (event_id, topic, event_type) VALUES (:id, :topic, :type) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)


async def claim(session: AsyncSession, event: Envelope, topic: str) -> bool:
    """Record ``event`` as processed; False when it already was (a duplicate)."""
    result = await session.execute(_CLAIM, {"id": event.id, "topic": topic, "type": event.type})
    return result.first() is not None


async def seen(session: AsyncSession, event_id: uuid.UUID) -> bool:
    """Whether ``event_id`` was processed already (without claiming it)."""
    found = await session.scalar(
        sa.text("SELECT 1 FROM inbox WHERE event_id = :id"), {"id": event_id}
    )
    return found is not None


_CLAIM_MANY = sa.text(
    "INSERT INTO inbox (event_id, topic, event_type) "
    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:topics AS text[]), "
    "CAST(:types AS text[])) ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)


async def claim_many(
    session: AsyncSession, events: list[Envelope], topics: list[str]
) -> set[uuid.UUID]:
    """Record ``events`` (read from ``topics``, one per event) as processed in one statement;
    returns the ids claimed now (the others were processed before: duplicates)."""
    if not events:
        return set()
    result = await session.execute(
        _CLAIM_MANY,
        {"ids": [e.id for e in events], "topics": topics, "types": [e.type for e in events]},
    )
    return set(result.scalars())
