"""Retention calls: one row per call-back of kind ``retention``, upserted from whichever of
its events comes first (what is already known is kept: the folds are order-independent), and
counted per period for the reports."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.satisfaction.store.tables import retention_calls

t = retention_calls


async def note_scheduled(session: AsyncSession, values: dict[str, Any]) -> None:
    stmt = insert(t).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[t.c.callback_id],
            set_={name: stmt.excluded[name] for name in values if name != "callback_id"},
        )
    )


async def note_outcome(
    session: AsyncSession, callback_id: uuid.UUID, outcome: str, at: datetime, create: bool
) -> None:
    """Record a call's outcome; the first outcome stays (a call ends once). ``create``: the
    call may be unknown yet (an outcome that says it is a retention call)."""
    if create:
        stmt = insert(t).values(callback_id=callback_id, outcome=outcome, outcome_at=at)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[t.c.callback_id],
                set_={"outcome": sa.func.coalesce(t.c.outcome, stmt.excluded.outcome),
                      "outcome_at": sa.func.coalesce(t.c.outcome_at, stmt.excluded.outcome_at)},
            )
        )  # fmt: skip
        return
    await session.execute(
        sa.update(t)
        .where(t.c.callback_id == callback_id, t.c.outcome.is_(None))
        .values(outcome=outcome, outcome_at=at)
    )


async def is_known(session: AsyncSession, callback_id: uuid.UUID) -> bool:
    return (
        await session.scalar(sa.select(sa.literal(1)).where(t.c.callback_id == callback_id))
    ) == 1


async def counts(session: AsyncSession, start: date, end: date) -> list[tuple[str, str, str, int]]:
    """(from tier, to tier, outcome or "open", calls) of the calls scheduled start..end (UTC
    days, inclusive)."""
    since = datetime.combine(start, time.min).replace(tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min).replace(tzinfo=UTC)
    rows = await session.execute(
        sa.select(
            sa.func.coalesce(t.c.from_tier, "unknown").label("from_tier"),
            sa.func.coalesce(t.c.to_tier, "unknown").label("to_tier"),
            sa.func.coalesce(t.c.outcome, "open").label("outcome"),
            sa.func.count().label("n"),
        )
        .where(t.c.scheduled_at >= since, t.c.scheduled_at < until)
        .group_by("from_tier", "to_tier", "outcome")
    )
    return [(r.from_tier, r.to_tier, r.outcome, int(r.n)) for r in rows]
