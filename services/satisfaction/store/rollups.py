"""The rollup tables: increments in, sums out. Increments are applied in key order so two
transactions touching the same rows never deadlock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.satisfaction.domain.contribution import COUNTERS, Contribution
from services.satisfaction.store.arrays import columns_of, pg_type, unnest
from services.satisfaction.store.tables import (
    rollup_daily,
    rollup_factors,
    rollup_resolve,
    rollup_resolve_month,
)


def _quoted(name: str) -> str:
    return f'"{name}"'


def _increment(
    table: sa.Table, key: list[str], counters: list[str], prefix: str
) -> tuple[str, list[str]]:
    """An upsert adding the counters of many rows (arrays ``<prefix>_<column>``, one row per
    key, in key order) to the table's; returns its SQL and its parameter names."""
    names = [*key, *counters]
    params = [f"{prefix}_{name}" for name in names]
    rows = unnest([(p, pg_type(table.c[n])) for p, n in zip(params, names, strict=True)])
    sql = (
        f"INSERT INTO {table.name} ({', '.join(map(_quoted, names))}) SELECT * FROM {rows} "
        f"ON CONFLICT ({', '.join(map(_quoted, key))}) DO UPDATE SET "
        + ", ".join(f"{_quoted(c)} = {table.name}.{_quoted(c)} + excluded.{_quoted(c)}"
                    for c in counters)
    )  # fmt: skip
    return sql, params


_DAILY, _DAILY_PARAMS = _increment(rollup_daily, ["day", "dimension", "value"], list(COUNTERS), "d")
_RESOLVE, _RESOLVE_PARAMS = _increment(
    rollup_resolve, ["day", "dimension", "value", "bucket"], ["count"], "r"
)
_MONTH, _MONTH_PARAMS = _increment(
    rollup_resolve_month, ["month", "dimension", "value", "bucket"], ["count"], "m"
)
_FACTORS, _FACTORS_PARAMS = _increment(
    rollup_factors, ["day", "dimension", "value", "factor", "score"], ["count"], "f"
)
# Every rollup table's increments in one statement: the daily upsert, the other three as
# data-modifying CTEs (run to completion whether read or not). Arrays left empty insert
# nothing, so the SQL is one text, prepared once. Rows are in key order within each table
# and the tables in one order for every transaction: concurrent writers queue, never deadlock.
# ``WITH_CTES`` and ``DAILY`` let another write join the same statement (``store.writes``).
WITH_CTES = f"WITH r AS ({_RESOLVE}), m AS ({_MONTH}), f AS ({_FACTORS})"
DAILY = _DAILY
APPLY = sa.text(f"{WITH_CTES} {DAILY}")


def increments(change: Contribution) -> dict[str, list[Any]] | None:
    """The parameters of the statement adding ``change``; None when it adds nothing."""
    if not (change.counters or change.hist or change.factors):
        return None
    daily = (
        (*key, *(values.get(c, 0) for c in COUNTERS))
        for key, values in sorted(change.counters.items())
    )
    months: dict[tuple[date, str, str, float], int] = {}
    for (day, dimension, value, bucket), n in change.hist.items():
        key = (day.replace(day=1), dimension, value, bucket)
        months[key] = months.get(key, 0) + n
    return (
        columns_of(daily, _DAILY_PARAMS)
        | columns_of(((*k, n) for k, n in sorted(change.hist.items())), _RESOLVE_PARAMS)
        | columns_of(((*k, n) for k, n in sorted(months.items()) if n), _MONTH_PARAMS)
        | columns_of(((*k, n) for k, n in sorted(change.factors.items())), _FACTORS_PARAMS)
    )


async def apply(session: AsyncSession, change: Contribution) -> None:
    """Add ``change`` to the rollups: one statement for all four tables."""
    params = increments(change)
    if params is not None:
        await session.execute(APPLY, params)


def _period(table: sa.Table, dimension: str, start: date, end: date) -> list[Any]:
    return [table.c.dimension == dimension, table.c.day >= start, table.c.day <= end]


async def sums(
    session: AsyncSession,
    dimension: str,
    start: date,
    end: date,
    columns: Sequence[str] = COUNTERS,
) -> dict[str, dict[str, int]]:
    """Counter sums per value of ``dimension`` over the days start..end (inclusive): every
    counter, or only ``columns``."""
    t = rollup_daily
    rows = await session.execute(
        sa.select(t.c.value, *(sa.func.sum(t.c[c]).label(c) for c in columns))
        .where(*_period(t, dimension, start, end))
        .group_by(t.c.value)
    )
    out = {r.value: {c: int(r._mapping[c] or 0) for c in columns} for r in rows}
    # A value whose increments cancelled out (a complaint first counted as "unknown" before
    # its facts arrived) is not a group.
    return {value: counters for value, counters in out.items() if any(counters.values())}


def split_months(
    start: date, end: date
) -> tuple[list[tuple[date, date]], date | None, date | None]:
    """The days start..end as (edge day ranges, first and last whole month), whole months
    being those entirely inside the period."""
    first = start if start.day == 1 else _next_month(start)
    after = _next_month(end) if _next_month(end) - timedelta(days=1) == end else end.replace(day=1)
    if first >= after:
        return [(start, end)], None, None
    edges = []
    if start < first:
        edges.append((start, first - timedelta(days=1)))
    if after <= end:
        edges.append((after, end))
    return edges, first, after - timedelta(days=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


async def histograms(
    session: AsyncSession, dimension: str, start: date, end: date
) -> dict[str, list[tuple[float, int]]]:
    """Time-to-resolve histograms per value: whole months from the monthly table, the rest
    from the daily one."""
    edges, first, last = split_months(start, end)
    d, m = rollup_resolve, rollup_resolve_month
    parts = [
        sa.select(d.c.value, d.c.bucket, d.c.count).where(*_period(d, dimension, a, b))
        for a, b in edges
    ]
    if first is not None and last is not None:
        parts.append(
            sa.select(m.c.value, m.c.bucket, m.c.count).where(
                m.c.dimension == dimension, m.c.month >= first, m.c.month <= last
            )
        )
    both = sa.union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    rows = await session.execute(
        sa.select(both.c.value, both.c.bucket, sa.func.sum(both.c.count).label("n")).group_by(
            both.c.value, both.c.bucket
        )
    )
    out: dict[str, list[tuple[float, int]]] = {}
    for r in rows:
        if r.n:
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
    session: AsyncSession,
    interval: str,
    start: date,
    end: date,
    columns: Sequence[str] = COUNTERS,
) -> dict[date, dict[str, int]]:
    """Counter sums of the whole (dimension "all") per day, ISO week or month: every counter,
    or only ``columns``."""
    t = rollup_daily
    period = sa.cast(sa.func.date_trunc(interval, t.c.day), sa.Date).label("period")
    rows = await session.execute(
        sa.select(period, *(sa.func.sum(t.c[c]).label(c) for c in columns))
        .where(*_period(t, "all", start, end))
        .group_by(period)
    )
    return {r.period: {c: int(r._mapping[c] or 0) for c in columns} for r in rows}


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
