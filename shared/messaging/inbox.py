"""The inbox: the ids of the events a service has processed, written in the same transaction
as the effect, so a redelivered event has no second effect."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import driver_connection
from shared.events.envelope import Envelope

_CLAIM = (
    "INSERT INTO inbox (event_id, topic, event_type) VALUES ($1::uuid, $2::text, $3::text) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING true"
)


async def claim(session: AsyncSession, event: Envelope, topic: str) -> bool:
    """Record ``event`` as processed; False when it already was (a duplicate)."""
    conn = await driver_connection(session)
    return bool(await conn.fetchval(_CLAIM, event.id, topic, event.type))


async def seen(session: AsyncSession, event_id: uuid.UUID) -> bool:
    """Whether ``event_id`` was processed already (without claiming it)."""
    found = await session.scalar(
        sa.text("SELECT 1 FROM inbox WHERE event_id = :id"), {"id": event_id}
    )
    return found is not None


_CLAIM_MANY = (
    "INSERT INTO inbox (event_id, topic, event_type) "
    "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)


async def claim_many(
    session: AsyncSession, events: list[Envelope], topics: list[str]
) -> set[uuid.UUID]:
    """Record ``events`` (read from ``topics``, one per event) as processed in one statement;
    returns the ids claimed now (the others were processed before: duplicates)."""
    if not events:
        return set()
    conn = await driver_connection(session)
    rows = await conn.fetch(_CLAIM_MANY, [e.id for e in events], topics, [e.type for e in events])
    return {row[0] for row in rows}
