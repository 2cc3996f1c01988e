"""What the API does: each call one transaction (state change, timers and outbox events
together)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ledger import reviews, schedules
from services.ledger.deps import Deps
from services.ledger.domain.entry import LedgerEntry
from services.ledger.store import repository as repo
from shared.events.ledger import SummaryPeriod

Sessions = async_sessionmaker[AsyncSession]


async def ledger_page(
    sessions: Sessions,
    where: repo.LedgerFilter,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[LedgerEntry]:
    async with sessions() as session:
        return await repo.list_entries(session, where, limit, after)


async def ledger_all(
    sessions: Sessions, where: repo.LedgerFilter, most: int, page: int = 1000
) -> AsyncIterator[LedgerEntry]:
    """Every matching entry (at most ``most``), read a page at a time for downloads."""
    after = None
    sent = 0
    while sent < most:
        batch = await ledger_page(sessions, where, min(page, most - sent), after)
        for entry in batch:
            yield entry
        sent += len(batch)
        if len(batch) < page:
            return
        after = (batch[-1].received_at, batch[-1].complaint_id)  # type: ignore[assignment]


async def entry(sessions: Sessions, complaint_id: uuid.UUID) -> LedgerEntry | None:
    async with sessions() as session:
        return await repo.get_entry(session, complaint_id)


async def month_end(sessions: Sessions, month: str) -> dict[str, Any] | None:
    async with sessions() as session:
        return await repo.month_end(session, month)


async def summarise(
    sessions: Sessions, deps: Deps, period: SummaryPeriod, start: date, by: str
) -> dict[str, Any]:
    async with sessions.begin() as session:
        return await schedules.summarise(session, deps, period, start, "on_demand", by)


async def summaries(sessions: Sessions, period: str | None, limit: int) -> list[dict[str, Any]]:
    async with sessions() as session:
        return await repo.list_summaries(session, period, limit)


async def summary(sessions: Sessions, summary_id: uuid.UUID) -> dict[str, Any] | None:
    async with sessions() as session:
        return await repo.get_summary(session, summary_id)


async def record_review(
    sessions: Sessions,
    deps: Deps,
    complaint_id: uuid.UUID,
    wanted: reviews.ReviewIn,
    by: str,
    by_name: str | None,
) -> dict[str, Any]:
    async with sessions.begin() as session:
        return await reviews.record(
            session, deps, complaint_id, wanted, by, by_name, datetime.now(UTC)
        )


async def complete_action(
    sessions: Sessions, complaint_id: uuid.UUID, action_id: uuid.UUID, by: str, note: str | None
) -> dict[str, Any]:
    async with sessions.begin() as session:
        return await reviews.complete_action(
            session, complaint_id, action_id, by, note, datetime.now(UTC)
        )


async def review(sessions: Sessions, complaint_id: uuid.UUID) -> dict[str, Any]:
    async with sessions() as session:
        return await reviews.view(session, complaint_id, datetime.now(UTC))


async def review_list(sessions: Sessions, overdue: bool, limit: int) -> list[dict[str, Any]]:
    async with sessions() as session:
        return await repo.list_reviews(session, datetime.now(UTC) if overdue else None, limit)
