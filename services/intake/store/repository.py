"""Queries over intake's tables. Functions take the caller's session: the caller owns the
transaction, so a complaint, its history and its outbox events commit together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.store.tables import complaints, idempotency_keys, status_history
from shared.web.pagination import encode_cursor


@dataclass(frozen=True)
class IdempotencyClaim:
    fresh: bool
    request_hash: str
    complaint_id: uuid.UUID


async def get_idempotency_key(session: AsyncSession, channel: str, key: str) -> IdempotencyClaim:
    row = (
        await session.execute(
            sa.select(idempotency_keys.c.request_hash, idempotency_keys.c.complaint_id).where(
                idempotency_keys.c.channel == channel, idempotency_keys.c.key == key
            )
        )
    ).one()
    return IdempotencyClaim(False, row.request_hash, row.complaint_id)


async def get_complaint(session: AsyncSession, complaint_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        (await session.execute(sa.select(complaints).where(complaints.c.id == complaint_id)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def get_history(session: AsyncSession, complaint_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.execute(
        sa.select(status_history.c.status, status_history.c.event_type, status_history.c.at)
        .where(status_history.c.complaint_id == complaint_id)
        .order_by(status_history.c.id)
    )
    return [dict(r) for r in rows.mappings()]


async def list_complaints(
    session: AsyncSession,
    *,
    customer_id: str | None,
    status: str | None,
    channel: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, keyset-paginated on (received_at, id)."""
    query = sa.select(complaints).order_by(complaints.c.received_at.desc(), complaints.c.id.desc())
    if customer_id is not None:
        query = query.where(complaints.c.customer_id == customer_id)
    if status is not None:
        query = query.where(complaints.c.status == status)
    if channel is not None:
        query = query.where(complaints.c.channel == channel)
    if after is not None:
        query = query.where(
            sa.tuple_(complaints.c.received_at, complaints.c.id) < sa.tuple_(*after)
        )
    rows = [dict(r) for r in (await session.execute(query.limit(limit + 1))).mappings()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["received_at"], rows[-1]["id"])
    return rows, next_cursor


async def set_status(
    session: AsyncSession,
    complaint_id: uuid.UUID,
    status: str,
    event_type: str,
    event_id: uuid.UUID | None,
    at: datetime,
    **changes: Any,
) -> bool:
    """Move to ``status`` unless a later event already moved the complaint (events of
    different topics may arrive out of order). Returns whether it moved."""
    moved = await session.scalar(
        sa.update(complaints)
        .where(complaints.c.id == complaint_id, complaints.c.status_changed_at <= at)
        .values(status=status, status_changed_at=at, **changes)
        .returning(complaints.c.id)
    )
    if moved is None:
        return False
    await session.execute(
        sa.insert(status_history).values(
            complaint_id=complaint_id,
            status=status,
            event_type=event_type,
            event_id=event_id,
            at=at,
        )
    )
    return True


async def status_before_pause(session: AsyncSession, complaint_id: uuid.UUID) -> str | None:
    return await session.scalar(
        sa.select(status_history.c.status)
        .where(status_history.c.complaint_id == complaint_id, status_history.c.status != "paused")
        .order_by(status_history.c.id.desc())
        .limit(1)
    )


async def forget_idempotency_keys(session: AsyncSession, older_than_days: int) -> int:
    result = await session.execute(
        sa.delete(idempotency_keys).where(
            idempotency_keys.c.created_at
            < sa.func.now() - sa.func.make_interval(0, 0, 0, older_than_days)
        )
    )
    return result.rowcount or 0


async def update_complaint(
    session: AsyncSession, complaint_id: uuid.UUID, changes: dict[str, Any]
) -> None:
    await session.execute(
        sa.update(complaints).where(complaints.c.id == complaint_id).values(**changes)
    )
