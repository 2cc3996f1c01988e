"""Satisfaction's retention-call figures count retention calls only: a call after a sale or
an exchange (no complaint either) that ends unreachable is not taken for a retention call.
Real PostgreSQL, satisfaction's own migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.satisfaction import retention_calls
from shared.db import create_engine
from shared.events.envelope import new_event
from shared.events.followup import CallbackKind, CallOutcome, FollowupUnreachable

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def unreachable(kind: CallbackKind | None) -> FollowupUnreachable:
    return FollowupUnreachable(
        callback_id=uuid.uuid4(),
        complaint_id=None,
        at=NOW,
        attempts=3,
        kind=kind,
        outcome=CallOutcome.UNREACHABLE if kind else None,
        customer_id="cust-1",
    )


async def test_only_retention_calls_count_among_the_retention_outcomes(databases) -> None:
    url = await databases.create("satisfaction")
    engine = create_engine(url, 1)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    events = {kind: unreachable(kind) for kind in (CallbackKind.AFTER_SALE,
                                                   CallbackKind.AFTER_EXCHANGE,
                                                   CallbackKind.RETENTION, None)}  # fmt: skip
    try:
        async with sessions.begin() as session:
            for data in events.values():
                await retention_calls.apply(session, new_event("/test", "cust-1", data))
        async with engine.connect() as conn:
            found = set(
                (await conn.execute(sa.text("SELECT callback_id FROM retention_calls"))).scalars()
            )
    finally:
        await engine.dispose()
    # A retention call, and one of an older producer that named no kind (all were retention).
    assert found == {events[CallbackKind.RETENTION].callback_id, events[None].callback_id}
