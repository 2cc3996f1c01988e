"""The alert watcher: every few seconds, the satisfaction rate of each dimension value over
the rolling window against target; ``satisfaction.alert`` once on falling below, again only
after a recovery. One transaction under an advisory lock, so replicas never alert twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.satisfaction.domain.alerts import Decision, decide
from services.satisfaction.settings import SatisfactionSettings
from services.satisfaction.store import rollups
from services.satisfaction.store.tables import alert_state
from services.satisfaction.usecases import SOURCE
from shared.db import is_unavailable
from shared.events.envelope import new_event
from shared.events.satisfaction import SatisfactionAlert
from shared.events.topics import Topics
from shared.messaging import outbox

log = logging.getLogger(__name__)
LOCK = 7245004


async def check_once(
    sessions: async_sessionmaker[AsyncSession],
    topics: Topics,
    settings: SatisfactionSettings,
    satisfied_min_score: int = 5,
) -> list[SatisfactionAlert]:
    now = datetime.now(UTC)
    today = now.date()
    start = today - timedelta(days=settings.alert_window_days - 1)
    target = settings.targets_min.get("satisfaction_rate")
    if target is None:
        return []
    fired: list[SatisfactionAlert] = []
    async with sessions.begin() as session:
        await session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK})
        states = {
            (r.dimension, r.value): r.alerting
            for r in await session.execute(sa.select(alert_state))
        }
        windows = await rollups.window_satisfaction(
            session, settings.alert_dimensions, start, today, satisfied_min_score
        )
        for dimension, value, answers, satisfied in windows:
            alerting = states.get((dimension, value), False)
            decision = decide(alerting, answers, satisfied, target, settings.alert_min_answers)
            if decision is Decision.NONE:
                continue
            rate = satisfied / answers
            stmt = insert(alert_state).values(
                dimension=dimension,
                value=value,
                alerting=decision is Decision.FIRE,
                rate=rate,
                answers=answers,
                changed_at=now,
            )
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["dimension", "value"],
                    set_={
                        k: stmt.excluded[k] for k in ("alerting", "rate", "answers", "changed_at")
                    },
                )
            )
            if decision is Decision.FIRE:
                alert = SatisfactionAlert(
                    dimension=dimension,
                    dimension_value=value,
                    value=rate,
                    target=target,
                    window_days=settings.alert_window_days,
                    answers=answers,
                    at=now,
                )
                await outbox.add(
                    session,
                    topics.satisfaction,
                    [new_event(SOURCE, f"{dimension}:{value}", alert, time=now)],
                )
                fired.append(alert)
            log.info(
                "satisfaction alert " + ("raised" if decision is Decision.FIRE else "recovered"),
                extra={"dimension": dimension, "value": value, "rate": rate, "answers": answers},
            )
    return fired


def watcher(
    sessions: async_sessionmaker[AsyncSession], topics: Topics, settings: SatisfactionSettings
):
    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await check_once(sessions, topics, settings)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                log.warning("alert watcher: database unavailable", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.alert_check_seconds)

    return run
