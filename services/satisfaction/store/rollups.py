"""The rollup tables: increments in, sums out. Increments are applied in key order so two
transactions touching the same rows never deadlock."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.satisfaction.domain.contribution import COUNTERS, Contribution
from services.satisfaction.store.tables import rollup_daily, rollup_factors, rollup_resolve


def _increment(table: sa.Table, key: list[str], counters: list[str]):
    """One statement, built once (so compiled once), run for many rows (executemany)."""
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=key, set_={c: table.c[c] + stmt.excluded[c] for c in counters}
    )


_DAILY = _increment(rollup_daily, ["day", "dimension", "value"], list(COUNTERS))
_RESOLVE = _increment(rollup_resolve, ["day", "dimension", "value", "bucket"], ["count"])
_FACTORS = _increment(rollup_factors, ["day", "dimension", "value", "factor", "score"], ["count"])


async def apply(session: AsyncSession, change: Contribution) -> None:
    if change.counters:
        rows = [
            {"day": k[0], "dimension": k[1], "value": k[2]} | {c: v.get(c, 0) for c in COUNTERS}
            for k, v in sorted(change.counters.items())
        ]
        await session.execute(_DAILY, rows)
    if change.hist:
        rows = [
            {"day": k[0], "dimension": k[1], "value": k[2], "bucket": k[3], "count": n}
            for k, n in sorted(change.hist.items())
        ]
        await session.execute(_RESOLVE, rows)
    if change.factors:
        rows = [
            {"day": k[0], "dimension": k[1], "value": k[2], "factor": k[3], "score": k[4],
             "count": n}
            for k, n in sorted(change.factors.items())
        ]  # fmt: skip
        await session.execute(_FACTORS, rows)


def _period(table: sa.Table, dimension: str, start: date, end: date) -> list[Any]:
    return [table.c.dimension == dimension, table.c.day >= start, table.c.day <= end]


async def sums(
    session: AsyncSession, dimension: str, start: date, end: date
) -> dict[str, dict[str, int]]:
    """Counter sums per value of ``dimension`` over the days start..end (inclusive)."""
    t = rollup_daily
    rows = await session.execute(
        sa.select(t.c.value, *(sa.func.sum(t.c[c]).label(c) for c in COUNTERS))
        .where(*_period(t, dimension, start, end))
        .group_by(t.c.value)
    )
    out = {r.value: {c: int(r._mapping[c] or 0) for c in COUNTERS} for r in rows}
    # A value whose increments cancelled out (a complaint first counted as "unknown" before
    # its facts arrived) is not a group.
    return {value: counters for value, counters in out.items() if any(counters.values())}


async def histograms(
    session: AsyncSession, dimension: str, start: date, end: date
) -> dict[str, list[tuple[float, int]]]:
    t = rollup_resolve
    rows = await session.execute(
        sa.select(t.c.value, t.c.bucket, sa.func.sum(t.c.count).label("n"))
        .where(*_period(t, dimension, start, end))
        .group_by(t.c.value, t.c.bucket)
    )
    out: dict[str, list[tuple[float, int]]] = {}
    for r in rows:
        out.setdefault(r.value, []).append((r.bucket, int(r.n)))
    return out


async def factor_counts(
    session: AsyncSession, dimension: str, start: date, end: date
) -> dict[str, list[tuple[str, int, int]]]:
    t = rollup_factors
    rows = await session.execute(
        sa.select(t.c.value, t.c.factor, t.c.score, sa.func.sum(t.c.count).label("n"))
        .where(*_period(t, dimension, start, end))
        .group_by(t.c.value, t.c.factor, t.c.score)
    )
    out: dict[str, list[tuple[str, int, int]]] = {}
    for r in rows:
        out.setdefault(r.value, []).append((r.factor, r.score, int(r.n)))
    return out


async def sums_by_period(
    session: AsyncSession, interval: str, start: date, end: date
) -> dict[date, dict[str, int]]:
    """Counter sums of the whole (dimension "all") per day, ISO week or month."""
    t = rollup_daily
    period = sa.cast(sa.func.date_trunc(interval, t.c.day), sa.Date).label("period")
    rows = await session.execute(
        sa.select(period, *(sa.func.sum(t.c[c]).label(c) for c in COUNTERS))
        .where(*_period(t, "all", start, end))
        .group_by(period)
    )
    return {r.period: {c: int(r._mapping[c] or 0) for c in COUNTERS} for r in rows}


async def window_satisfaction(
    session: AsyncSession, dimensions: list[str], start: date, end: date, min_score: int
) -> list[tuple[str, str, int, int]]:
    """(dimension, value, answers, satisfied answers) over the days start..end."""
    t = rollup_daily
    levels = [t.c[f"l{s}"] for s in range(1, 7)]
    satisfied = [t.c[f"l{s}"] for s in range(min_score, 7)]
    rows = await session.execute(
        sa.select(
            t.c.dimension,
            t.c.value,
            sa.func.sum(sum(levels[1:], levels[0])).label("answers"),
            sa.func.sum(sum(satisfied[1:], satisfied[0])).label("satisfied"),
        )
        .where(t.c.dimension.in_(dimensions), t.c.day >= start, t.c.day <= end)
        .group_by(t.c.dimension, t.c.value)
        .order_by(t.c.dimension, t.c.value)
    )
    return [(r.dimension, r.value, int(r.answers or 0), int(r.satisfied or 0)) for r in rows]
