"""Queries over intake's tables. Functions take the caller's session: the caller owns the
transaction, so a complaint, its history and its outbox events commit together."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.store.tables import (
    complaints,
    customer_links,
    idempotency_keys,
    status_history,
)
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


_SET_STATUSES = sa.text(
    "UPDATE complaints AS c SET status = v.status, status_changed_at = v.at, "
    "escalation_level = coalesce(v.level, c.escalation_level), "
    "deadlines = coalesce(v.deadlines, c.deadlines) "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]), "
    "CAST(:ats AS timestamptz[]), CAST(:levels AS text[]), CAST(:deadlines AS jsonb[])) "
    "AS v(id, status, at, level, deadlines) "
    "WHERE c.id = v.id AND c.status_changed_at <= v.at RETURNING c.id"
)
_ADD_HISTORY = sa.text(
    "INSERT INTO complaint_status_history (complaint_id, status, event_type, event_id, at) "
    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]), "
    "CAST(:types AS text[]), CAST(:event_ids AS uuid[]), CAST(:ats AS timestamptz[]))"
)


@dataclass(frozen=True)
class StatusMove:
    complaint_id: uuid.UUID
    status: str
    event_type: str
    event_id: uuid.UUID | None
    at: datetime
    level: str | None  # the escalation level the event names, if any
    deadlines: dict[str, str] | None = None  # the promised deadlines it carries, if any


async def set_statuses(session: AsyncSession, moves: list[StatusMove]) -> set[uuid.UUID]:
    """``set_status`` for many complaints (at most one move each), two statements in all;
    returns the complaints that moved."""
    if not moves:
        return set()
    moves = sorted(moves, key=lambda m: m.complaint_id)  # one lock order for every writer
    moved = set(
        (
            await session.execute(
                _SET_STATUSES,
                {
                    "ids": [m.complaint_id for m in moves],
                    "statuses": [m.status for m in moves],
                    "ats": [m.at for m in moves],
                    "levels": [m.level for m in moves],
                    "deadlines": [
                        json.dumps(m.deadlines) if m.deadlines is not None else None for m in moves
                    ],
                },
            )
        ).scalars()
    )
    done = [m for m in moves if m.complaint_id in moved]
    if done:
        await session.execute(
            _ADD_HISTORY,
            {
                "ids": [m.complaint_id for m in done],
                "statuses": [m.status for m in done],
                "types": [m.event_type for m in done],
                "event_ids": [m.event_id for m in done],
                "ats": [m.at for m in done],
            },
        )
    return moved


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


# ---- the customer's link and incomplete complaints -------------------------------------------


async def add_customer_link(
    session: AsyncSession, token_sha256: str, complaint_id: uuid.UUID, issued_at: datetime
) -> bool:
    """False when the complaint is unknown here (nothing to link to) or the hash is known."""
    exists = await session.scalar(sa.select(complaints.c.id).where(complaints.c.id == complaint_id))
    if exists is None:
        return False
    added = await session.scalar(
        insert(customer_links)
        .values(token_sha256=token_sha256, complaint_id=complaint_id, issued_at=issued_at)
        .on_conflict_do_nothing()
        .returning(customer_links.c.token_sha256)
    )
    return added is not None


async def complaint_of_link(session: AsyncSession, token_sha256: str) -> uuid.UUID | None:
    return await session.scalar(
        sa.select(customer_links.c.complaint_id).where(
            customer_links.c.token_sha256 == token_sha256
        )
    )


async def lock_complaint(session: AsyncSession, complaint_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                sa.select(complaints).where(complaints.c.id == complaint_id).with_for_update()
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def awaiting_information(
    session: AsyncSession, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Incomplete complaints, oldest first (the nearest to being closed on top), with their
    pending chase timers; no personal data. An erased one is no longer chased."""
    query = (
        sa.select(
            complaints.c.id,
            complaints.c.channel,
            complaints.c.category,
            complaints.c.received_at,
            complaints.c.missing_fields,
            complaints.c.reminders_sent,
        )
        .where(complaints.c.status == "awaiting_information", complaints.c.anonymised_at.is_(None))
        .order_by(complaints.c.received_at, complaints.c.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(
            sa.tuple_(complaints.c.received_at, complaints.c.id) > sa.tuple_(*after)
        )
    rows = [dict(r) for r in (await session.execute(query)).mappings()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["received_at"], rows[-1]["id"])
    if rows:
        timers = await session.execute(
            sa.text(
                "SELECT subject, kind, min(due_at) AS due_at FROM timers "
                "WHERE subject = ANY(:subjects) AND fired_at IS NULL AND cancelled_at IS NULL "
                "GROUP BY subject, kind"
            ),
            {"subjects": [str(r["id"]) for r in rows]},
        )
        due: dict[tuple[str, str], datetime] = {(t.subject, t.kind): t.due_at for t in timers}
        for row in rows:
            row["next_reminder_at"] = due.get((str(row["id"]), "contact_reminder"))
            row["closes_at"] = due.get((str(row["id"]), "close_unreachable"))
    return rows, next_cursor


async def count_awaiting_information(session: AsyncSession) -> int:
    return (
        await session.scalar(
            sa.select(sa.func.count()).where(
                complaints.c.status == "awaiting_information", complaints.c.anonymised_at.is_(None)
            )
        )
    ) or 0
