"""What the API does: each call one transaction (state change, timers and outbox events
together)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.followup import callbacks
from services.followup.api.schemas import OutcomeIn, RescheduleIn
from services.followup.callbacks import Deps
from services.followup.domain.assignment import Taker


async def record_outcome(
    sessions: async_sessionmaker[AsyncSession],
    deps: Deps,
    callback_id: uuid.UUID,
    outcome: OutcomeIn,
    by: str,
) -> dict[str, Any]:
    async with sessions.begin() as session:
        return await callbacks.record_outcome(
            session,
            deps,
            callback_id,
            reached=outcome.reached,
            satisfied=outcome.satisfied,
            customer_words=outcome.customer_words,
            note=outcome.note,
            by=by,
            now=datetime.now(UTC),
        )


async def reschedule(
    sessions: async_sessionmaker[AsyncSession],
    deps: Deps,
    callback_id: uuid.UUID,
    wanted: RescheduleIn,
    by: str,
) -> dict[str, Any]:
    async with sessions.begin() as session:
        return await callbacks.reschedule(
            session,
            deps,
            callback_id,
            due_at=wanted.due_at,
            reason=wanted.reason,
            by=by,
            now=datetime.now(UTC),
        )


async def take(
    sessions: async_sessionmaker[AsyncSession], callback_id: uuid.UUID, who: Taker
) -> dict[str, Any]:
    async with sessions.begin() as session:
        return await callbacks.take(session, callback_id, who, datetime.now(UTC))
