"""Operations on outbox rows: list them by status, show one with its error and audit trail,
retry a parked one (after fixing the cause: the relay publishes it, then its key's later
rows, in order) or discard it (its key's later rows then flow)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.ops import Conflict, NotFound
from shared.ops.audit import AuditLine, record, trail

PREVIEW_CHARS = 4000


class OutboxStatus(StrEnum):
    PARKED = "parked"  # cannot be published; waits for an operator
    PENDING = "pending"  # waits for the relay (possibly behind a parked row of its key)
    SENT = "sent"
    DISCARDED = "discarded"


_STATUS = (
    "CASE WHEN discarded_at IS NOT NULL THEN 'discarded' WHEN sent_at IS NOT NULL THEN 'sent' "
    "WHEN parked_at IS NOT NULL THEN 'parked' ELSE 'pending' END"
)
_WHERE = {
    OutboxStatus.PARKED: "parked_at IS NOT NULL AND sent_at IS NULL AND discarded_at IS NULL",
    OutboxStatus.PENDING: "parked_at IS NULL AND sent_at IS NULL AND discarded_at IS NULL",
    OutboxStatus.SENT: "sent_at IS NOT NULL",
    OutboxStatus.DISCARDED: "discarded_at IS NOT NULL",
}
_COLUMNS = (
    f"id, event_id, topic, key, event_type, {_STATUS} AS status, created_at, attempts, "
    "last_error, parked_at, sent_at, discarded_at"
)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    event_id: uuid.UUID
    topic: str
    key: str
    event_type: str
    status: OutboxStatus
    created_at: datetime
    attempts: int
    last_error: str | None
    parked_at: datetime | None
    sent_at: datetime | None
    discarded_at: datetime | None

    @property
    def target(self) -> str:
        return target(self.id)


@dataclass(frozen=True)
class OutboxRowDetail:
    row: OutboxRow
    payload_bytes: int
    payload_preview: str  # the first PREVIEW_CHARS characters of the event
    held_back: int  # later rows of the same key waiting behind this one
    audit: list[AuditLine]


def target(row_id: int) -> str:
    return f"outbox:{row_id}"


async def list_rows(
    engine: AsyncEngine,
    status: OutboxStatus = OutboxStatus.PARKED,
    *,
    after: int | None = None,
    limit: int = 50,
) -> list[OutboxRow]:
    """Rows of ``status``, oldest first, from after the id ``after`` (keyset paging)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                f"SELECT {_COLUMNS} FROM outbox WHERE {_WHERE[status]} "
                "AND id > :after ORDER BY id LIMIT :limit"
            ),
            {"after": after or 0, "limit": limit},
        )
        return [_row(r) for r in rows.mappings()]


async def get_row(engine: AsyncEngine, row_id: int) -> OutboxRowDetail:
    async with engine.connect() as conn:
        found = (
            await conn.execute(
                sa.text(
                    f"SELECT {_COLUMNS}, octet_length(payload::text) AS payload_bytes, "
                    "left(payload::text, :preview) AS payload_preview FROM outbox WHERE id = :id"
                ),
                {"id": row_id, "preview": PREVIEW_CHARS},
            )
        ).mappings().first()  # fmt: skip
        if found is None:
            raise NotFound(f"no outbox row {row_id}")
        row = _row(found)
        held = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM outbox WHERE key = :key AND id > :id "
                "AND sent_at IS NULL AND discarded_at IS NULL"
            ),
            {"key": row.key, "id": row.id},
        )
        return OutboxRowDetail(
            row=row,
            payload_bytes=found["payload_bytes"],
            payload_preview=found["payload_preview"],
            held_back=(held or 0) if row.status is OutboxStatus.PARKED else 0,
            audit=await trail(conn, row.target),
        )


async def retry(
    engine: AsyncEngine, row_id: int, *, actor: str, reason: str | None = None
) -> OutboxRow:
    """Un-park the row: the relay tries it again at once (its key's later rows after it)."""
    async with engine.begin() as conn:
        row = await _change(conn, row_id, "parked_at = NULL")
        await record(conn, actor=actor, action="outbox.retry", target=row.target, reason=reason)
        await conn.execute(sa.text("SELECT pg_notify('outbox', '')"))  # wake the relays
    return row


async def discard(engine: AsyncEngine, row_id: int, *, actor: str, reason: str) -> OutboxRow:
    """Give up on the parked row: it is never published; its key's later rows go on."""
    if not reason.strip():
        raise ValueError("a reason is required to discard an event")
    async with engine.begin() as conn:
        row = await _change(conn, row_id, "discarded_at = now()")
        await record(conn, actor=actor, action="outbox.discard", target=row.target, reason=reason)
        await conn.execute(sa.text("SELECT pg_notify('outbox', '')"))
    return row


async def _change(conn: AsyncConnection, row_id: int, assignment: str) -> OutboxRow:
    changed = (
        await conn.execute(
            sa.text(
                f"UPDATE outbox SET {assignment} WHERE id = :id "
                f"AND {_WHERE[OutboxStatus.PARKED]} RETURNING {_COLUMNS}"
            ),
            {"id": row_id},
        )
    ).mappings().first()  # fmt: skip
    if changed is not None:
        return _row(changed)
    status = await conn.scalar(
        sa.text(f"SELECT {_STATUS} FROM outbox WHERE id = :id"), {"id": row_id}
    )
    if status is None:
        raise NotFound(f"no outbox row {row_id}")
    raise Conflict(f"outbox row {row_id} is {status}, not parked")


def _row(found: sa.RowMapping) -> OutboxRow:
    values = {k: found[k] for k in OutboxRow.__dataclass_fields__}
    values["status"] = OutboxStatus(values["status"])
    return OutboxRow(**values)
