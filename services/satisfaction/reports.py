"""Reports: read the rollup sums for a period and turn them into figures (domain.report)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.satisfaction import retention_calls
from services.satisfaction.domain import figures as documents
from services.satisfaction.domain.facts import UNKNOWN, rank_of
from services.satisfaction.domain.report import ReportPolicy, summary, trend_point
from services.satisfaction.store import retention_calls as retention_store
from services.satisfaction.store import rollups
from services.satisfaction.store.tables import alert_state

Interval = Literal["day", "week", "month", "quarter"]
LEVEL_COLUMNS = [f"l{score}" for score in range(1, 7)]
# What a trend point shows (the other counters are not summed for it).
TREND_COLUMNS = [
    *LEVEL_COLUMNS, "requested", "requested_answered", "resolved", "timely",
    "unresolved_breached", "complaints", "resolved_c1",
]  # fmt: skip
MONTHS_IN = {"month": 1, "quarter": 3}


async def summary_report(
    session: AsyncSession,
    policy: ReportPolicy,
    start: date,
    end: date,
    group_by: str | None,
    overall: bool = True,
) -> dict[str, Any]:
    """The figures of a period, overall and (``group_by``) per value; ``overall=False``: the
    groups only (the dashboard reads the overall figures once)."""
    report: dict[str, Any] = {"from": start, "to": end, "group_by": group_by}
    if overall:
        report["overall"] = await _overall(session, policy, start, end)
    if group_by:
        groups = await _summaries(session, policy, group_by, start, end)
        order = _tier_order(policy) if group_by == "tier" else sorted
        report["groups"] = [{"value": v, **groups[v]} for v in order(groups)]
    return report


async def _overall(
    session: AsyncSession, policy: ReportPolicy, start: date, end: date
) -> dict[str, Any]:
    management = await _reached_management(session, policy, start, end)
    found = await _summaries(session, policy, "all", start, end, management)
    overall = found.get("all") or summary({}, [], [], policy, management)
    overall["factor_analysis"]["by_tier"] = await _factors_by_tier(session, policy, start, end)
    overall["retention_calls"] = retention_calls.report(
        await retention_store.counts(session, start, end),
        lambda tier: documents.tier_key(tier, policy.figures),
    )
    return overall


def _tier_order(policy: ReportPolicy):
    return lambda values: sorted(values, key=lambda v: documents.tier_key(v, policy.figures))


async def _summaries(
    session: AsyncSession,
    policy: ReportPolicy,
    dimension: str,
    start: date,
    end: date,
    management: int | None = None,
) -> dict[str, dict[str, Any]]:
    sums = await rollups.sums(session, dimension, start, end)
    hists = await rollups.histograms(session, dimension, start, end)
    factors = await rollups.factor_counts(session, dimension, start, end)
    return {
        value: summary(
            sums[value], hists.get(value, []), factors.get(value, []), policy, management
        )
        for value in sums
    }


async def _reached_management(
    session: AsyncSession, policy: ReportPolicy, start: date, end: date
) -> int:
    """Complaints whose case climbed to the pyramid's management rung or above."""
    sums = await rollups.sums(session, "escalation_level", start, end, ["complaints"])
    floor = rank_of(policy.figures.complaint_pyramid.management_from_level, list(policy.ladder))
    return sum(
        counters["complaints"]
        for level, counters in sums.items()
        if level != UNKNOWN and rank_of(level, list(policy.ladder)) >= floor
    )


async def _factors_by_tier(
    session: AsyncSession, policy: ReportPolicy, start: date, end: date
) -> list[dict[str, Any]]:
    """The factor analysis per customer tier, the most valuable first (DOMAIN.md: "measure by
    customer tier")."""
    sums = await rollups.sums(session, "tier", start, end, LEVEL_COLUMNS)
    factors = await rollups.factor_counts(session, "tier", start, end)
    out = []
    for tier in _tier_order(policy)(sums):
        levels = {score: sums[tier].get(f"l{score}", 0) for score in range(1, 7)}
        if not any(levels.values()):
            continue
        out.append(
            {"tier": tier, "answers": sum(levels.values())}
            | documents.factor_bands(
                factors.get(tier, []), levels, policy.figures, policy.top_factors
            )
        )
    return out


def period_starts(interval: str, start: date, end: date) -> list[date]:
    """Every day, ISO week (Monday), month or quarter start that overlaps start..end."""
    if interval in MONTHS_IN:
        step = MONTHS_IN[interval]
        month = (start.month - 1) // step * step + 1
        current = date(start.year, month, 1)
    elif interval == "week":
        current = start - timedelta(days=start.weekday())
    else:
        current = start
    out = []
    while current <= end:
        out.append(current)
        if interval in MONTHS_IN:
            months = current.year * 12 + current.month - 1 + MONTHS_IN[interval]
            if months // 12 > date.max.year:
                break
            current = date(months // 12, months % 12 + 1, 1)
        else:
            step = timedelta(days=1 if interval == "day" else 7)
            if current > date.max - step:
                break
            current += step
    return out


async def trend_report(
    session: AsyncSession, policy: ReportPolicy, interval: str, start: date, end: date
) -> dict[str, Any]:
    sums = await rollups.sums_by_period(session, interval, start, end, TREND_COLUMNS)
    points = [
        {"period": period, **trend_point(sums.get(period, {}), policy)}
        for period in period_starts(interval, start, end)
    ]
    return {"from": start, "to": end, "interval": interval, "points": points}


async def alert_states(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(
        sa.select(alert_state).order_by(alert_state.c.dimension, alert_state.c.value)
    )
    return [dict(r._mapping) for r in rows]
