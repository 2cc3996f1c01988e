"""Queries of the ledger's store; every function takes the caller's session."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger.domain.entry import LedgerEntry
from services.ledger.domain.review import ReportClockState
from services.ledger.store.tables import (
    actions,
    entries,
    month_end_flags,
    month_end_runs,
    reviews,
    summaries,
)

# ---- ledger entries -----------------------------------------------------------------------


async def lock_entry(session: AsyncSession, complaint_id: uuid.UUID) -> LedgerEntry:
    """The complaint's entry, created empty if new, locked until the transaction ends."""
    await session.execute(
        insert(entries)
        .values(complaint_id=complaint_id, status="open")
        .on_conflict_do_nothing(index_elements=["complaint_id"])
    )
    row = (
        await session.execute(
            sa.select(entries).where(entries.c.complaint_id == complaint_id).with_for_update()
        )
    ).mappings().one()  # fmt: skip
    return LedgerEntry.from_row(dict(row))


async def lock_entries_in_order(session: AsyncSession, complaint_ids: list[uuid.UUID]) -> None:
    """Create and lock the entries of ``complaint_ids`` in the order given (sorted by the
    caller): one statement, rows upserted in order, so concurrent batches queue instead of
    deadlocking."""
    if not complaint_ids:
        return
    await session.execute(_LOCK_MANY, {"ids": complaint_ids})


# One SQL text for any number of entries (a multi-row VALUES is compiled anew per size).
_LOCK_MANY = sa.text(
    "INSERT INTO ledger_entries (complaint_id, status) SELECT unnest(CAST(:ids AS uuid[])), "
    "'open' ON CONFLICT (complaint_id) DO UPDATE SET complaint_id = excluded.complaint_id"
)


async def lock_entries(
    session: AsyncSession, complaint_ids: list[uuid.UUID]
) -> dict[uuid.UUID, LedgerEntry]:
    """``lock_entries_in_order`` that also reads them: one statement (the upsert returns
    every row it created or locked)."""
    if not complaint_ids:
        return {}
    rows = await session.execute(_LOCK_READ_MANY, {"ids": complaint_ids})
    return {row["complaint_id"]: LedgerEntry.from_row(dict(row)) for row in rows.mappings()}


_LOCK_READ_MANY = sa.text(_LOCK_MANY.text + " RETURNING *").columns(*entries.c)


async def save_entries(session: AsyncSession, found: list[LedgerEntry]) -> None:
    """``save_entry`` for many: one statement, the rows sent as one JSON array."""
    if not found:
        return
    rows = [entry.row() for entry in found]
    # default=str: asyncpg's own UUID class, which orjson does not know, as text; a naive
    # time as UTC, as asyncpg sends it (not in the session's time zone).
    payload = orjson.dumps(rows, default=str, option=orjson.OPT_NAIVE_UTC).decode()
    await session.execute(_save_many(tuple(rows[0])), {"rows": payload})


@functools.cache
def _save_many(names: tuple[str, ...]) -> sa.TextClause:
    """The UPDATE for rows with these keys (an entry's ``row()``: every stored column)."""
    unknown = set(names) - set(entries.c.keys())
    assert not unknown, f"not columns of ledger_entries: {unknown}"
    columns = [n for n in names if n != "complaint_id"]
    return sa.text(
        f"UPDATE ledger_entries AS e SET ({', '.join(columns)}) = "
        f"({', '.join('r.' + c for c in columns)}) "
        "FROM jsonb_populate_recordset(NULL::ledger_entries, CAST(:rows AS jsonb)) AS r "
        "WHERE e.complaint_id = r.complaint_id"
    )


async def lock_pending_timers(session: AsyncSession, subjects: list[str], kind: str) -> None:
    """Lock the pending timers of ``subjects`` (of ``kind``), by id."""
    if subjects:
        await session.execute(
            sa.text(
                "SELECT id FROM timers WHERE subject = ANY(:subjects) AND kind = :kind "
                "AND fired_at IS NULL AND cancelled_at IS NULL ORDER BY id FOR UPDATE"
            ),
            {"subjects": subjects, "kind": kind},
        )


async def save_entry(session: AsyncSession, entry: LedgerEntry) -> None:
    values = entry.row()
    values.pop("complaint_id")
    await session.execute(
        sa.update(entries).where(entries.c.complaint_id == entry.complaint_id).values(**values)
    )


async def get_entry(session: AsyncSession, complaint_id: uuid.UUID) -> LedgerEntry | None:
    row = (
        await session.execute(sa.select(entries).where(entries.c.complaint_id == complaint_id))
    ).mappings().first()  # fmt: skip
    return LedgerEntry.from_row(dict(row)) if row else None


@dataclass(frozen=True)
class LedgerFilter:
    received_from: datetime | None = None
    received_to: datetime | None = None
    site: str | None = None
    category: str | None = None
    team: str | None = None
    status: str | None = None


def _where(f: LedgerFilter) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [entries.c.received_at.is_not(None)]
    if f.received_from is not None:
        where.append(entries.c.received_at >= f.received_from)
    if f.received_to is not None:
        where.append(entries.c.received_at < f.received_to)
    for column, value in (
        (entries.c.site, f.site),
        (entries.c.category, f.category),
        (entries.c.team, f.team),
        (entries.c.status, f.status),
    ):
        if value is not None:
            where.append(column == value)
    return where


async def list_entries(
    session: AsyncSession,
    f: LedgerFilter,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[LedgerEntry]:
    """Oldest registration first (a ledger reads in the order complaints came), keyset paged."""
    where = _where(f)
    if after is not None:
        where.append(sa.tuple_(entries.c.received_at, entries.c.complaint_id) > sa.tuple_(*after))
    rows = await session.execute(
        sa.select(entries)
        .where(*where)
        .order_by(entries.c.received_at, entries.c.complaint_id)
        .limit(limit)
    )
    return [LedgerEntry.from_row(dict(r)) for r in rows.mappings()]


async def unresolved_before(session: AsyncSession, before: datetime) -> list[LedgerEntry]:
    rows = await session.execute(
        sa.select(entries)
        .where(entries.c.status == "open", entries.c.received_at < before)
        .order_by(entries.c.received_at, entries.c.complaint_id)
    )
    return [LedgerEntry.from_row(dict(r)) for r in rows.mappings()]


# ---- month end ----------------------------------------------------------------------------


async def add_month_end(
    session: AsyncSession, run: dict[str, Any], flags: list[dict[str, Any]]
) -> bool:
    """False when the month was already flagged (a second replica, a redelivered timer)."""
    inserted = await session.execute(
        insert(month_end_runs).values(**run).on_conflict_do_nothing().returning(
            month_end_runs.c.month
        )
    )  # fmt: skip
    if inserted.first() is None:
        return False
    if flags:
        await session.execute(insert(month_end_flags), flags)
    return True


async def month_end(session: AsyncSession, month: str) -> dict[str, Any] | None:
    run = (
        await session.execute(sa.select(month_end_runs).where(month_end_runs.c.month == month))
    ).mappings().first()  # fmt: skip
    if run is None:
        return None
    flags = await session.execute(
        sa.select(month_end_flags)
        .where(month_end_flags.c.month == month)
        .order_by(month_end_flags.c.received_at, month_end_flags.c.complaint_id)
    )
    return dict(run) | {"complaints": [dict(r) for r in flags.mappings()]}


# ---- summaries ----------------------------------------------------------------------------


async def add_summary(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(summaries).values(**values))


async def get_summary(session: AsyncSession, summary_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        await session.execute(sa.select(summaries).where(summaries.c.id == summary_id))
    ).mappings().first()  # fmt: skip
    return dict(row) if row else None


async def list_summaries(
    session: AsyncSession, period: str | None, limit: int
) -> list[dict[str, Any]]:
    query = sa.select(
        summaries.c.id,
        summaries.c.period,
        summaries.c.start,
        summaries.c.end,
        summaries.c.trigger,
        summaries.c.created_at,
        summaries.c.created_by,
    )
    if period is not None:
        query = query.where(summaries.c.period == period)
    rows = await session.execute(
        query.order_by(summaries.c.created_at.desc(), summaries.c.id).limit(limit)
    )
    return [dict(r) for r in rows.mappings()]


# ---- reviews ------------------------------------------------------------------------------


async def lock_review(session: AsyncSession, complaint_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        await session.execute(
            sa.select(reviews).where(reviews.c.complaint_id == complaint_id).with_for_update()
        )
    ).mappings().first()  # fmt: skip
    return dict(row) if row else None


async def upsert_review(session: AsyncSession, complaint_id: uuid.UUID, values: dict) -> None:
    statement = insert(reviews).values(complaint_id=complaint_id, **values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["complaint_id"], set_=values)
    )


async def add_actions(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(actions), rows)


async def actions_of(session: AsyncSession, complaint_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.execute(
        sa.select(actions).where(actions.c.complaint_id == complaint_id).order_by(
            actions.c.due_at, actions.c.id
        )
    )  # fmt: skip
    return [dict(r) for r in rows.mappings()]


async def lock_action(session: AsyncSession, action_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        await session.execute(sa.select(actions).where(actions.c.id == action_id).with_for_update())
    ).mappings().first()  # fmt: skip
    return dict(row) if row else None


async def update_action(session: AsyncSession, action_id: uuid.UUID, values: dict) -> None:
    await session.execute(sa.update(actions).where(actions.c.id == action_id).values(**values))


async def get_review(session: AsyncSession, complaint_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        await session.execute(sa.select(reviews).where(reviews.c.complaint_id == complaint_id))
    ).mappings().first()  # fmt: skip
    return dict(row) if row else None


async def list_reviews(
    session: AsyncSession, overdue_at: datetime | None, limit: int
) -> list[dict[str, Any]]:
    """Reviews by report due time; with ``overdue_at``: those whose report clock ran out
    by then (not reported, or reported late)."""
    query = sa.select(reviews)
    if overdue_at is not None:
        query = query.where(
            reviews.c.report_due_at.is_not(None),
            sa.func.coalesce(reviews.c.recorded_at, overdue_at) > reviews.c.report_due_at,
        )
    rows = await session.execute(
        query.order_by(reviews.c.report_due_at.nulls_last(), reviews.c.complaint_id).limit(limit)
    )
    return [dict(r) for r in rows.mappings()]


# ---- report-back clocks, many at once (the consumer's batch path) -------------------------

# Pending timers of the subjects locked in id order (one lock order with other batches and
# the timer scheduler), then cancelled: one statement for the batch.
_CANCEL_PENDING = sa.text(
    "UPDATE timers SET cancelled_at = now() WHERE id IN ("
    "  SELECT id FROM timers WHERE subject = ANY(CAST(:subjects AS text[])) AND kind = :kind "
    "  AND fired_at IS NULL AND cancelled_at IS NULL ORDER BY id FOR UPDATE)"
)


async def cancel_pending_timers(session: AsyncSession, subjects: list[str], kind: str) -> None:
    """``timers.cancel`` for many subjects. Not for a timer handler's transaction: the
    scheduler's note of what its handlers cancelled is not kept here."""
    if subjects:
        await session.execute(_CANCEL_PENDING, {"subjects": subjects, "kind": kind})


_LOCK_CLOCKS = sa.text(
    "SELECT complaint_id, finished_at, report_due_at, went_overdue_at, team, "
    "recorded_at IS NOT NULL AS recorded FROM reviews "
    "WHERE complaint_id = ANY(CAST(:ids AS uuid[])) ORDER BY complaint_id FOR UPDATE"
)


async def lock_report_clocks(
    session: AsyncSession, complaint_ids: list[uuid.UUID]
) -> dict[uuid.UUID, ReportClockState]:
    """The report clocks of ``complaint_ids``, their reviews locked in id order; a complaint
    without a review gets an empty clock."""
    found = {c: ReportClockState(c) for c in complaint_ids}
    if complaint_ids:
        for row in await session.execute(_LOCK_CLOCKS, {"ids": complaint_ids}):
            clock = found[row.complaint_id]
            clock.exists, clock.recorded = True, row.recorded
            clock.finished_at, clock.report_due_at = row.finished_at, row.report_due_at
            clock.went_overdue_at, clock.team = row.went_overdue_at, row.team
    return found


_SAVE_CLOCKS = sa.text(
    "INSERT INTO reviews (complaint_id, finished_at, report_due_at, went_overdue_at, team, "
    "updated_at) SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:finished AS timestamptz[]), "
    "CAST(:due AS timestamptz[]), CAST(:overdue AS timestamptz[]), CAST(:teams AS text[]), "
    "CAST(:updated AS timestamptz[])) "
    "ON CONFLICT (complaint_id) DO UPDATE SET finished_at = excluded.finished_at, "
    "report_due_at = excluded.report_due_at, went_overdue_at = excluded.went_overdue_at, "
    "team = excluded.team, updated_at = excluded.updated_at"
)


async def save_report_clocks(
    session: AsyncSession, clocks: list[ReportClockState], now: datetime
) -> None:
    """Upsert the reviews' clocks in one statement (the rest of a review stays as it is)."""
    if clocks:
        await session.execute(
            _SAVE_CLOCKS,
            {
                "ids": [c.complaint_id for c in clocks],
                "finished": [c.finished_at for c in clocks],
                "due": [c.report_due_at for c in clocks],
                "overdue": [c.went_overdue_at for c in clocks],
                "teams": [c.team for c in clocks],
                "updated": [now] * len(clocks),
            },
        )
