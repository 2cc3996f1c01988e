"""Month end and periodic summaries as durable timers, not cron: each run arms the next. At
start a replica reconciles each schedule with the configuration (time zone, clock) under an
advisory lock: a pending timer that is already due is kept (it fires at once: a month end
that passed while everything was down is still flagged); one due later at another time is
replaced."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ledger.deps import Deps
from services.ledger.domain.month_end import flagged
from services.ledger.domain.periods import (
    Due,
    end_of,
    following,
    midnight,
    month_label,
    next_due,
    start_of,
)
from services.ledger.domain.summary import figures
from services.ledger.store import repository as repo
from shared import timers
from shared.events.ledger import MonthEndFlagged, SummaryPeriod, SummaryPublished
from shared.timers import Timer

log = logging.getLogger(__name__)

MONTH_END = "ledger.month_end"
SUMMARY = "ledger.summary"
_LOCK = 7245006  # advisory lock of the schedule reconciliation


def subject_of(period: SummaryPeriod, kind: str) -> str:
    return f"schedule:{kind}:{period.value}"


def _payload(due: Due) -> dict[str, Any]:
    return {
        "period": due.period.value,
        "start": due.start.isoformat(),
        "end": due.end.isoformat(),
        "at": due.at.isoformat(),
    }


def _due_of(timer: Timer) -> Due:
    p = timer.payload
    return Due(
        SummaryPeriod(p["period"]),
        date.fromisoformat(p["start"]),
        date.fromisoformat(p["end"]),
        datetime.fromisoformat(p["at"]),
    )


def wanted(deps: Deps, now: datetime) -> list[tuple[str, Due]]:
    """Each schedule's next run by the configuration: (timer kind, due)."""
    zone = deps.settings.zone
    found = []
    if deps.settings.month_end_flags:
        found.append((MONTH_END, next_due(SummaryPeriod.MONTH, now, zone)))
    for period in dict.fromkeys(deps.settings.summary_schedules):
        found.append((SUMMARY, next_due(period, now, zone)))
    return found


async def reconcile(session: AsyncSession, deps: Deps) -> None:
    await session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    wall = datetime.now(UTC)
    now = deps.clock.now(wall)
    for kind, due in wanted(deps, now):
        subject = subject_of(due.period, kind)
        pending = [t for t in await timers.pending(session, subject) if t.kind == kind]
        if any(t.due_at <= wall for t in pending):
            continue  # a run that fell due while nothing ran: it fires now, then re-arms
        at = deps.clock.to_wall(due.at)
        if len(pending) == 1 and pending[0].due_at == at and pending[0].payload == _payload(due):
            continue
        await timers.cancel(session, subject, [kind])
        await timers.arm(session, kind, subject, at, _payload(due))
        log.info("schedule armed", extra={"kind": kind, "period": due.period.value,
                                          "at": due.at.isoformat()})  # fmt: skip


def reconciler(sessions: async_sessionmaker[AsyncSession], deps: Deps):
    async def run(stop: asyncio.Event) -> None:
        async with sessions.begin() as session:
            await reconcile(session, deps)
        await stop.wait()  # once per start; the guard would run it again if it returned

    return run


# ---- month end ----------------------------------------------------------------------------


async def flag_month(session: AsyncSession, deps: Deps, month_start: date) -> bool:
    """Flag the month's unresolved complaints; False when it was already flagged."""
    zone = deps.settings.zone
    end = midnight(end_of(SummaryPeriod.MONTH, month_start), zone)
    label = month_label(month_start)
    found = flagged(await repo.unresolved_before(session, end), end)
    now = datetime.now(UTC)
    added = await repo.add_month_end(
        session,
        {"month": label, "month_end": end, "time_zone": deps.settings.time_zone,
         "count": len(found), "ran_at": now},
        [{"month": label, **f.model_dump()} for f in found],
    )  # fmt: skip
    if not added:
        return False
    await deps.publish(
        session,
        f"month-end:{label}",
        MonthEndFlagged(
            month=label,
            month_end=end,
            time_zone=deps.settings.time_zone,
            count=len(found),
            complaints=found,
            at=now,
        ),
        at=now,
    )
    log.info("month end flagged", extra={"month": label, "count": len(found)})
    return True


# ---- summaries ----------------------------------------------------------------------------


async def summarise(
    session: AsyncSession,
    deps: Deps,
    period: SummaryPeriod,
    start: date,
    trigger: str,
    by: str | None = None,
) -> dict[str, Any]:
    """Compute, keep and publish the summary of the period starting at ``start``."""
    zone = deps.settings.zone
    start = start_of(period, start)
    end = end_of(period, start)
    entries = await repo.list_entries(
        session,
        repo.LedgerFilter(received_from=midnight(start, zone), received_to=midnight(end, zone)),
        limit=deps.settings.max_export_rows,
    )
    now = datetime.now(UTC)
    values = {
        "id": uuid.uuid4(),
        "period": period.value,
        "start": start,
        "end": end,
        "trigger": trigger,
        "time_zone": deps.settings.time_zone,
        "figures": figures(entries, deps.settings.targets),
        "created_at": now,
        "created_by": by,
    }
    await repo.add_summary(session, values)
    await deps.publish(
        session,
        f"summary:{period.value}",
        SummaryPublished(
            summary_id=values["id"],
            period=period,
            start=start,
            end=end,
            trigger=trigger,
            figures=values["figures"],
            at=now,
        ),
        at=now,
    )
    log.info("summary published", extra={"period": period.value, "start": start.isoformat(),
                                          "trigger": trigger})  # fmt: skip
    return values


def timer_handlers(deps: Deps):
    async def rearm(session: AsyncSession, kind: str, timer: Timer, due: Due) -> None:
        nxt = following(due, deps.settings.zone)
        await timers.arm(session, kind, timer.subject, deps.clock.to_wall(nxt.at), _payload(nxt))

    async def on_month_end(session: AsyncSession, timer: Timer) -> None:
        due = _due_of(timer)
        await flag_month(session, deps, due.start)
        await rearm(session, MONTH_END, timer, due)

    async def on_summary(session: AsyncSession, timer: Timer) -> None:
        due = _due_of(timer)
        await summarise(session, deps, due.period, due.start, "scheduled")
        await rearm(session, SUMMARY, timer, due)

    return {MONTH_END: on_month_end, SUMMARY: on_summary}
