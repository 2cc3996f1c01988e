"""Reports: read the rollup sums for a period and turn them into figures (domain.report)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.satisfaction.domain.report import ReportPolicy, summary
from services.satisfaction.store import rollups
from services.satisfaction.store.tables import alert_state

Interval = Literal["day", "week", "month", "quarter"]
MONTHS_IN = {"month": 1, "quarter": 3}


async def summary_report(
    session: AsyncSession, policy: ReportPolicy, start: date, end: date, group_by: str | None
) -> dict[str, Any]:
    overall = await _summaries(session, policy, "all", start, end)
    report: dict[str, Any] = {
        "from": start,
        "to": end,
        "group_by": group_by,
        "overall": overall.get("all") or summary({}, [], [], policy),
    }
    if group_by:
        groups = await _summaries(session, policy, group_by, start, end)
        report["groups"] = [{"value": v, **groups[v]} for v in sorted(groups)]
    return report


async def _summaries(
    session: AsyncSession, policy: ReportPolicy, dimension: str, start: date, end: date
) -> dict[str, dict[str, Any]]:
    sums = await rollups.sums(session, dimension, start, end)
    hists = await rollups.histograms(session, dimension, start, end)
    factors = await rollups.factor_counts(session, dimension, start, end)
    return {
        value: summary(sums[value], hists.get(value, []), factors.get(value, []), policy)
        for value in sums
    }


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
    sums = await rollups.sums_by_period(session, interval, start, end)
    points = []
    for period in period_starts(interval, start, end):
        figures = summary(sums.get(period, {}), [], [], policy)
        points.append(
            {
                "period": period,
                "answers": figures["answers"],
                "answers_by_level": figures["answers_by_level"],
                "satisfaction_rate": figures["satisfaction_rate"],
                "dissatisfaction_rate": figures["dissatisfaction_rate"],
                "response_rate": figures["response_rate"],
                "timely_handling_rate": figures["timely_handling_rate"],
                "complaints": figures["complaints"],
                "resolved": figures["resolved"],
                "first_contact_resolution_rate": figures["first_contact_resolution_rate"],
            }
        )
    return {"from": start, "to": end, "interval": interval, "points": points}


async def alert_states(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(
        sa.select(alert_state).order_by(alert_state.c.dimension, alert_state.c.value)
    )
    return [dict(r._mapping) for r in rows]
