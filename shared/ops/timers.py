"""Operations on durable timers: list them by status (failed first of all), show one with its
error and audit trail, retry one now, or cancel one that should never fire. A service
without timers answers NotFound."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.ops import Conflict, NotFound
from shared.ops.audit import AuditLine, record, trail


class TimerStatus(StrEnum):
    FAILED = "failed"  # parked after repeated failures; still retried at the longest back-off
    PENDING = "pending"  # armed, not yet fired (failed ones included)
    FIRED = "fired"
    CANCELLED = "cancelled"


_STATUS = (
    "CASE WHEN fired_at IS NOT NULL THEN 'fired' WHEN cancelled_at IS NOT NULL THEN 'cancelled' "
    "WHEN failed_at IS NOT NULL THEN 'failed' ELSE 'pending' END"
)
_WHERE = {
    TimerStatus.FAILED: "failed_at IS NOT NULL AND fired_at IS NULL AND cancelled_at IS NULL",
    TimerStatus.PENDING: "fired_at IS NULL AND cancelled_at IS NULL",
    TimerStatus.FIRED: "fired_at IS NOT NULL",
    TimerStatus.CANCELLED: "cancelled_at IS NOT NULL",
}
_COLUMNS = (
    f"id, kind, subject, due_at, {_STATUS} AS status, attempts, last_error, created_at, "
    "failed_at, fired_at, cancelled_at"
)


class NoTimers(NotFound):
    pass


@dataclass(frozen=True)
class TimerRow:
    id: int
    kind: str
    subject: str
    due_at: datetime
    status: TimerStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    failed_at: datetime | None
    fired_at: datetime | None
    cancelled_at: datetime | None

    @property
    def target(self) -> str:
        return target(self.id)


@dataclass(frozen=True)
class TimerDetail:
    row: TimerRow
    payload: dict[str, Any]
    audit: list[AuditLine]


def target(timer_id: int) -> str:
    return f"timer:{timer_id}"


async def list_timers(
    engine: AsyncEngine,
    status: TimerStatus = TimerStatus.FAILED,
    *,
    after: int | None = None,
    limit: int = 50,
) -> list[TimerRow]:
    async with engine.connect() as conn:
        await _has_timers(conn)
        rows = await conn.execute(
            sa.text(
                f"SELECT {_COLUMNS} FROM timers WHERE {_WHERE[status]} "
                "AND id > :after ORDER BY id LIMIT :limit"
            ),
            {"after": after or 0, "limit": limit},
        )
        return [_row(r) for r in rows.mappings()]


async def get_timer(engine: AsyncEngine, timer_id: int) -> TimerDetail:
    async with engine.connect() as conn:
        await _has_timers(conn)
        found = (
            await conn.execute(
                sa.text(f"SELECT {_COLUMNS}, payload FROM timers WHERE id = :id"), {"id": timer_id}
            )
        ).mappings().first()  # fmt: skip
        if found is None:
            raise NotFound(f"no timer {timer_id}")
        return TimerDetail(
            row=_row(found), payload=found["payload"], audit=await trail(conn, target(timer_id))
        )


async def retry(
    engine: AsyncEngine, timer_id: int, *, actor: str, reason: str | None = None
) -> TimerRow:
    """Fire the timer now (a scheduler picks it up at once), with a fresh count of attempts."""
    async with engine.begin() as conn:
        row = await _change(conn, timer_id, "due_at = now(), failed_at = NULL, attempts = 0")
        await record(conn, actor=actor, action="timer.retry", target=row.target, reason=reason)
    return row


async def cancel(engine: AsyncEngine, timer_id: int, *, actor: str, reason: str) -> TimerRow:
    """The timer never fires (for a deadline whose subject is gone, say)."""
    if not reason.strip():
        raise ValueError("a reason is required to cancel a timer")
    async with engine.begin() as conn:
        row = await _change(conn, timer_id, "cancelled_at = now()")
        await record(conn, actor=actor, action="timer.cancel", target=row.target, reason=reason)
    return row


async def _change(conn: AsyncConnection, timer_id: int, assignment: str) -> TimerRow:
    await _has_timers(conn)
    # SKIP LOCKED: a timer a scheduler is firing right now is a conflict, not a wait.
    locked = await conn.scalar(
        sa.text(f"SELECT {_STATUS} FROM timers WHERE id = :id FOR UPDATE SKIP LOCKED"),
        {"id": timer_id},
    )
    if locked is None:
        exists = await conn.scalar(sa.text("SELECT 1 FROM timers WHERE id = :id"), {"id": timer_id})
        if exists is None:
            raise NotFound(f"no timer {timer_id}")
        raise Conflict(f"timer {timer_id} is being fired right now")
    changed = (
        await conn.execute(
            sa.text(
                f"UPDATE timers SET {assignment} WHERE id = :id "
                f"AND {_WHERE[TimerStatus.PENDING]} RETURNING {_COLUMNS}"
            ),
            {"id": timer_id},
        )
    ).mappings().first()  # fmt: skip
    if changed is None:
        raise Conflict(f"timer {timer_id} is {locked}")
    return _row(changed)


async def _has_timers(conn: AsyncConnection) -> None:
    if await conn.scalar(sa.text("SELECT to_regclass('timers') IS NULL")):
        raise NoTimers("this service keeps no durable timers")


def _row(found: sa.RowMapping) -> TimerRow:
    values = {k: found[k] for k in TimerRow.__dataclass_fields__}
    values["status"] = TimerStatus(values["status"])
    return TimerRow(**values)
