"""Parked events: what a consumer group could not process, kept in the service's own
database, visible (API, CLI, metric) and durable.

A record that fails for good is ``parked``. Later records of the same key (the complaint id)
for the same group are ``held`` behind it, in order, so a complaint never moves on as if its
failed event had happened. An operator redrives the parked event (``redrive``: the group's
consumer replays it, then the key's held events, in order) or discards it (the held events
are then replayed). Every operator decision goes to the audit trail (``ops_audit``):
who, when, why."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import ops
from shared.db import driver_connection, new_metadata
from shared.messaging.parked_tables import OPEN_STATUSES
from shared.ops import audit

_metadata = new_metadata()
parked_events = sa.Table(
    "parked_events",
    _metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("group_id", sa.Text),
    sa.Column("topic", sa.Text),
    sa.Column("partition", sa.Integer),
    sa.Column("offset", sa.BigInteger),
    sa.Column("key", sa.Text),
    sa.Column("event_id", sa.Uuid),
    sa.Column("event_type", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("error_type", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("error_trace", sa.Text),
    sa.Column("attempts", sa.Integer),
    sa.Column("payload", sa.LargeBinary),
    sa.Column("parked_at", sa.DateTime(timezone=True)),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("dead_lettered_at", sa.DateTime(timezone=True)),
)
_p = parked_events.c


class Status(StrEnum):
    PARKED = "parked"
    HELD = "held"
    REDRIVE = "redrive"
    REDRIVEN = "redriven"
    DISCARDED = "discarded"


@dataclass(frozen=True)
class Record:
    """Where a parked event came from, and what failed."""

    group_id: str
    topic: str
    partition: int
    offset: int
    key: str | None
    payload: bytes | None
    event_id: uuid.UUID | None = None
    event_type: str | None = None


@dataclass(frozen=True)
class Failure:
    error_type: str
    error_message: str
    error_trace: str | None = None
    attempts: int = 1


@dataclass(frozen=True)
class AuditEntry:
    action: str
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class ParkedEvent:
    id: int
    group_id: str
    topic: str
    partition: int
    offset: int
    key: str | None
    event_id: uuid.UUID | None
    event_type: str | None
    status: Status
    error_type: str
    error_message: str
    attempts: int
    parked_at: datetime
    resolved_at: datetime | None
    error_trace: str | None = None
    payload: bytes | None = None
    audit: tuple[AuditEntry, ...] = ()

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


class NotFound(ops.NotFound):
    pass


class Refused(ops.Conflict):
    """The action does not fit the event's state (a 409 on the API)."""


def decode_key(key: bytes | None) -> str | None:
    return None if key is None else key.decode("utf-8", errors="backslashreplace")


# ---- the consumer's side -------------------------------------------------------------------


_KNOWN = """
    SELECT 'k', key, NULL, NULL::int, NULL::bigint FROM parked_events
     WHERE group_id = $1::text AND status IN ('parked', 'held', 'redrive')
       AND key = ANY($2::text[])
    UNION ALL
    SELECT 'o', NULL, p.topic, p.partition, p."offset" FROM parked_events p
      JOIN unnest($3::text[], $4::int[], $5::bigint[], $6::bigint[])
           AS s (topic, partition, lo, hi)
        ON p.topic = s.topic AND p.partition = s.partition AND p."offset" BETWEEN s.lo AND s.hi
     WHERE p.group_id = $1::text
    """

Offset = tuple[str, int, int]  # topic, partition, offset


async def known(
    session: AsyncSession, group_id: str, keys: Iterable[str], offsets: Iterable[Offset]
) -> tuple[set[str], set[Offset]]:
    """For a batch (of one or more partitions), in one round trip: its keys that are held
    (an open parked event of the group), and its records parked already (a redelivery: their
    fate is decided in the table, not by processing them again)."""
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for topic, partition, offset in offsets:
        lo, hi = spans.get((topic, partition), (offset, offset))
        spans[topic, partition] = (min(lo, offset), max(hi, offset))
    conn = await driver_connection(session)
    rows = await conn.fetch(
        _KNOWN,
        group_id,
        sorted(set(keys)),
        [t for t, _ in spans],
        [p for _, p in spans],
        [lo for lo, _ in spans.values()],
        [hi for _, hi in spans.values()],
    )
    held: set[str] = set()
    parked_offsets: set[Offset] = set()
    for kind, key, topic, partition, offset in rows:
        if kind == "k":
            held.add(key)
        else:
            parked_offsets.add((topic, partition, offset))
    return held, parked_offsets


async def park(
    session: AsyncSession, record: Record, failure: Failure, *, hold: bool = False
) -> int | None:
    """Park ``record`` (or hold it, when its key has an open parked event); returns the
    row id, None when this record (group, topic, partition, offset) is parked already."""
    status = Status.HELD if hold else await _status_for(session, record)
    stmt = (
        insert(parked_events)
        .values(
            group_id=record.group_id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            event_id=record.event_id,
            event_type=record.event_type,
            status=status.value,
            error_type=failure.error_type,
            error_message=failure.error_message,
            error_trace=failure.error_trace,
            attempts=failure.attempts,
            payload=record.payload,
        )
        .on_conflict_do_nothing(constraint="uq_parked_events_record")
        .returning(_p.id)
    )
    return await session.scalar(stmt)


async def _status_for(session: AsyncSession, record: Record) -> Status:
    if record.key is None:
        return Status.PARKED
    ahead = await session.scalar(
        sa.select(sa.literal(1))
        .where(
            _p.group_id == record.group_id,
            _p.key == record.key,
            _p.status.in_(OPEN_STATUSES),
        )
        .limit(1)
    )
    return Status.HELD if ahead else Status.PARKED


async def replay_heads(session: AsyncSession, group_id: str, limit: int = 50) -> list[int]:
    """Rows of ``group_id`` ready to replay: asked for (``redrive``) or held with nothing
    open ahead of them (what was ahead was redriven or discarded)."""
    earlier = parked_events.alias("earlier")
    e = earlier.c
    rows = await session.execute(
        sa.select(_p.id)
        .where(
            _p.group_id == group_id,
            _p.status.in_([Status.HELD, Status.REDRIVE]),
            sa.or_(_p.key.is_not(None), _p.status == Status.REDRIVE),
            ~sa.exists().where(
                e.group_id == _p.group_id,
                e.key == _p.key,
                e.status.in_(OPEN_STATUSES),
                e.id < _p.id,
            ),
        )
        .order_by(_p.id)
        .limit(limit)
    )
    return list(rows.scalars())


async def lock_run(session: AsyncSession, head_id: int) -> list[ParkedEvent]:
    """Lock the head row (skipping it if another replica has it) and return it with the
    open rows of its key behind it, in order; empty when the head is taken or no longer a
    head."""
    head = (
        await session.execute(
            sa.select(parked_events)
            .where(_p.id == head_id, _p.status.in_([Status.HELD, Status.REDRIVE]))
            .with_for_update(skip_locked=True)
        )
    ).first()
    if head is None:
        return []
    first = _from_row(head._mapping)
    if first.key is None:
        return [first]
    rows = await session.execute(
        sa.select(parked_events)
        .where(
            _p.group_id == first.group_id,
            _p.key == first.key,
            _p.status.in_(OPEN_STATUSES),
        )
        .order_by(_p.id)
        .with_for_update()
    )
    found = [_from_row(r._mapping) for r in rows]
    if not found or found[0].id != head_id:
        return []  # something ahead was parked meanwhile
    return found


async def mark(session: AsyncSession, row_id: int, status: Status, failure: Failure | None = None):
    values: dict[str, object] = {"status": status.value}
    if status in (Status.REDRIVEN, Status.DISCARDED):
        values["resolved_at"] = sa.func.now()
    if failure is not None:
        values |= {
            "error_type": failure.error_type,
            "error_message": failure.error_message,
            "error_trace": failure.error_trace,
            "attempts": _p.attempts + failure.attempts,
        }
    await session.execute(sa.update(parked_events).where(_p.id == row_id).values(**values))


async def counts(
    session: AsyncSession, group_id: str | None = None
) -> dict[tuple[str, str, str], int]:
    """Open rows per (group, topic, status)."""
    stmt = (
        sa.select(_p.group_id, _p.topic, _p.status, sa.func.count())
        .where(_p.status.in_(OPEN_STATUSES))
        .group_by(_p.group_id, _p.topic, _p.status)
    )
    if group_id is not None:
        stmt = stmt.where(_p.group_id == group_id)
    return {(g, t, s): n for g, t, s, n in (await session.execute(stmt)).all()}


async def not_dead_lettered(
    session: AsyncSession, group_id: str, limit: int = 100
) -> list[ParkedEvent]:
    """Parked rows whose copy is not on the dead-letter topic yet, locked (skip locked)."""
    rows = await session.execute(
        sa.select(parked_events)
        .where(_p.group_id == group_id, _p.dead_lettered_at.is_(None))
        .order_by(_p.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [_from_row(r._mapping) for r in rows]


async def mark_dead_lettered(session: AsyncSession, row_ids: list[int]) -> None:
    if row_ids:
        await session.execute(
            sa.update(parked_events)
            .where(_p.id.in_(row_ids))
            .values(dead_lettered_at=sa.func.now())
        )


# ---- the operator's side -------------------------------------------------------------------


async def list_events(
    session: AsyncSession,
    *,
    group_id: str | None = None,
    topic: str | None = None,
    statuses: Iterable[Status] | None = None,
    key: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[ParkedEvent]:
    """Oldest first; ``after_id`` continues a listing."""
    stmt = sa.select(*(c for c in parked_events.c if c.name not in ("payload", "error_trace")))
    if group_id is not None:
        stmt = stmt.where(_p.group_id == group_id)
    if topic is not None:
        stmt = stmt.where(_p.topic == topic)
    if statuses is not None:
        stmt = stmt.where(_p.status.in_([s.value for s in statuses]))
    if key is not None:
        stmt = stmt.where(_p.key == key)
    if after_id is not None:
        stmt = stmt.where(_p.id > after_id)
    rows = await session.execute(stmt.order_by(_p.id).limit(limit))
    return [_from_row(r._mapping) for r in rows]


async def get(session: AsyncSession, row_id: int, *, lock: bool = False) -> ParkedEvent:
    stmt = sa.select(parked_events).where(_p.id == row_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound(row_id)
    trail = await audit.trail(await session.connection(), _target(row_id))
    found = _from_row(row._mapping)
    entries = tuple(AuditEntry(e.action, e.actor, e.reason or "", e.at) for e in trail)
    return ParkedEvent(**{**found.__dict__, "audit": entries})


async def request_redrive(
    session: AsyncSession, row_id: int, actor: str, reason: str
) -> ParkedEvent:
    """Ask the group's consumer to replay a parked event, then its key's held events."""
    found = await get(session, row_id, lock=True)
    if found.status != Status.PARKED:
        raise Refused(_refusal(found, "redriven"))
    await mark(session, row_id, Status.REDRIVE)
    await _audit(session, row_id, "redrive", actor, reason)
    return await get(session, row_id)


async def discard(session: AsyncSession, row_id: int, actor: str, reason: str) -> ParkedEvent:
    """Give up on a parked (or held) event; the events held behind it are then replayed."""
    found = await get(session, row_id, lock=True)
    if found.status not in (Status.PARKED, Status.HELD):
        raise Refused(_refusal(found, "discarded"))
    await mark(session, row_id, Status.DISCARDED)
    await _audit(session, row_id, "discard", actor, reason)
    return await get(session, row_id)


def _refusal(found: ParkedEvent, action: str) -> str:
    if found.status == Status.HELD:
        return (
            f"event {found.id} is held behind an earlier parked event of its key; "
            "redrive or discard that one (its held events follow in order)"
        )
    return f"event {found.id} is {found.status}; only a parked event can be {action}"


def _target(row_id: int) -> str:
    return f"parked_event:{row_id}"


async def _audit(session: AsyncSession, row_id: int, action: str, actor: str, reason: str) -> None:
    await audit.record(
        await session.connection(),
        actor=actor,
        action=action,
        target=_target(row_id),
        reason=reason,
    )


def _from_row(m) -> ParkedEvent:
    return ParkedEvent(
        id=m["id"],
        group_id=m["group_id"],
        topic=m["topic"],
        partition=m["partition"],
        offset=m["offset"],
        key=m["key"],
        event_id=m["event_id"],
        event_type=m["event_type"],
        status=Status(m["status"]),
        error_type=m["error_type"],
        error_message=m["error_message"],
        attempts=m["attempts"],
        parked_at=m["parked_at"],
        resolved_at=m["resolved_at"],
        error_trace=m.get("error_trace"),
        payload=m.get("payload"),
    )
