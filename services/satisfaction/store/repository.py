"""Queries over satisfaction's per-complaint tables. Functions take the caller's session:
the caller owns the transaction, so facts, rollup increments and outbox events commit
together."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.satisfaction.domain.contribution import Answer, Survey
from services.satisfaction.domain.facts import Facts
from services.satisfaction.store.tables import answers, facts, surveys

_FACT_FIELDS = [c.name for c in facts.columns if c.name not in {"complaint_id", "breached"}]


async def lock_facts(session: AsyncSession, complaint_id: uuid.UUID) -> Facts:
    """The complaint's facts, its row locked until commit: one writer per complaint at a time
    (consumer and API, across replicas), so no increment is lost or doubled."""
    stmt = insert(facts).values(complaint_id=complaint_id)
    # An upsert that touches the row takes its lock and returns it: one round trip.
    row = (
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[facts.c.complaint_id],
                set_={"complaint_id": stmt.excluded.complaint_id},
            ).returning(*facts.columns)
        )
    ).one()
    m = row._mapping
    return Facts(
        complaint_id=complaint_id,
        breached=set(m["breached"]),
        **{name: m[name] for name in _FACT_FIELDS},
    )


async def lock_facts_in_order(session: AsyncSession, complaint_ids: list[uuid.UUID]) -> None:
    """Create and lock the facts rows of ``complaint_ids`` in the order given (sorted by the
    caller): one statement, rows upserted in order, so concurrent batches queue instead of
    deadlocking."""
    if not complaint_ids:
        return
    stmt = insert(facts).values([{"complaint_id": cid} for cid in complaint_ids])
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[facts.c.complaint_id],
            set_={"complaint_id": stmt.excluded.complaint_id},
        )
    )


async def save_facts(session: AsyncSession, found: Facts) -> None:
    values = {name: getattr(found, name) for name in _FACT_FIELDS}
    values["breached"] = sorted(found.breached)
    await session.execute(
        sa.update(facts).where(facts.c.complaint_id == found.complaint_id).values(**values)
    )


async def complaint_known(session: AsyncSession, complaint_id: uuid.UUID) -> bool:
    found = await session.scalar(
        sa.select(sa.literal(1)).where(
            sa.or_(
                sa.exists().where(facts.c.complaint_id == complaint_id),
                sa.exists().where(surveys.c.complaint_id == complaint_id),
            )
        )
    )
    return found is not None


async def surveys_of(session: AsyncSession, complaint_id: uuid.UUID) -> list[Survey]:
    rows = await session.execute(
        sa.select(surveys.c.token, surveys.c.requested_at, surveys.c.answered_at).where(
            surveys.c.complaint_id == complaint_id, surveys.c.requested_at.is_not(None)
        )
    )
    return [Survey(r.token, r.requested_at, r.answered_at is not None) for r in rows]


async def answers_of(session: AsyncSession, complaint_id: uuid.UUID) -> list[Answer]:
    rows = await session.execute(
        sa.select(
            answers.c.answer_id,
            answers.c.score,
            answers.c.factors,
            answers.c.recorded_at,
            answers.c.tier,
        ).where(answers.c.complaint_id == complaint_id)
    )
    return [
        Answer(str(r.answer_id), r.score, tuple(r.factors), r.recorded_at, r.tier) for r in rows
    ]


async def get_survey(session: AsyncSession, token: str) -> dict[str, Any] | None:
    row = (await session.execute(sa.select(surveys).where(surveys.c.token == token))).first()
    return dict(row._mapping) if row else None


async def open_survey_of(session: AsyncSession, complaint_id: uuid.UUID) -> dict[str, Any] | None:
    """The complaint's latest unanswered survey, if any."""
    row = (
        await session.execute(
            sa.select(surveys)
            .where(
                surveys.c.complaint_id == complaint_id,
                surveys.c.answered_at.is_(None),
                surveys.c.requested_at.is_not(None),
            )
            .order_by(surveys.c.requested_at.desc())
            .limit(1)
        )
    ).first()
    return dict(row._mapping) if row else None


async def upsert_requested_survey(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Returns whether the survey is already answered (its answer came first)."""
    stmt = insert(surveys).values(**values)
    answered_at = await session.scalar(
        stmt.on_conflict_do_update(
            index_elements=[surveys.c.token],
            set_={
                "requested_at": stmt.excluded.requested_at,
                "callback_id": stmt.excluded.callback_id,
                "customer_id": stmt.excluded.customer_id,
                "tier": stmt.excluded.tier,
            },
        ).returning(surveys.c.answered_at)
    )
    return answered_at is not None


async def mark_survey_answered(
    session: AsyncSession, token: str, complaint_id: uuid.UUID, at: datetime
) -> None:
    """Idempotent: an answer met before its request (a rebuild reading topics in another
    order) leaves a row the request fills in later."""
    stmt = insert(surveys).values(token=token, complaint_id=complaint_id, answered_at=at)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[surveys.c.token],
            set_={
                "answered_at": sa.func.coalesce(surveys.c.answered_at, stmt.excluded.answered_at)
            },
        )
    )


async def insert_answer(session: AsyncSession, values: dict[str, Any]) -> bool:
    inserted = await session.scalar(
        insert(answers).values(**values).on_conflict_do_nothing().returning(answers.c.answer_id)
    )
    return inserted is not None
