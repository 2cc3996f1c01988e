"""Queries over follow-up's tables. Functions take the caller's session: the caller owns the
transaction, so a call-back, its timers and its outbox events commit together."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup.store.tables import (
    activities,
    attempts,
    callbacks,
    customers,
    survey_requests,
    tier_history,
    visit_days,
)
from shared.events.outgoing import Outgoing
from shared.messaging.outbox import shard_of
from shared.web.pagination import encode_cursor

# ---- call-backs -------------------------------------------------------------------------


async def insert_callback(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False when a call-back with the same origin exists (the cause was seen before)."""
    inserted = await session.scalar(
        insert(callbacks).values(**values).on_conflict_do_nothing().returning(callbacks.c.id)
    )
    return inserted is not None


# The columns a new call-back is written with (``callbacks.planned`` gives all of them).
NEW_CALLBACK_COLUMNS = (
    "id", "kind", "origin", "complaint_id", "customer_id", "customer", "tier", "tier_before",
    "tier_rank", "severity", "round", "reason", "details", "state", "due_at", "overdue_at",
    "attempts", "max_attempts", "policy_version", "created_at", "updated_at", "team",
)  # fmt: skip

# A timer to arm: kind, subject (the call-back's id), due time, payload.
Wakeup = tuple[str, uuid.UUID, datetime, dict[str, Any]]

# One statement for a batch of new call-backs, with their timers and their events
# (data-modifying CTEs): the rows travel as JSON documents, one per table (one orjson call
# each; PostgreSQL parses them in C, where asyncpg would encode arrays element by element),
# the call-backs typed by the table's own row type, timers and events as JSON arrays read by
# position. A repeated origin inserts nothing, so its timers and event are dropped by the
# statement itself. WITH ORDINALITY ... ORDER BY: the outbox's ids follow the events' order
# (the relay publishes a key's events in id order); a payload is a JSON string holding the
# exact bytes to publish. Timers: shared.timers' table, the rows timers.arm_many writes;
# outbox: the rows shared.messaging.outbox.add writes.
# For each row inserted, whether its complaint already had an open call-back: the CTEs and
# the outer query read one snapshot, so the lookup sees the call-backs there were before,
# never the new ones; the complaint's rows found by its index alone, their states looked at
# after (as an EXISTS with the states in its condition, PostgreSQL hashed every open
# call-back or ANDed the state index in: a scan growing with the table).
_COLUMNS = ", ".join(NEW_CALLBACK_COLUMNS)
_SCHEDULE = sa.text(
    f"WITH new AS ("
    f"  INSERT INTO callbacks ({_COLUMNS}) "
    f"  SELECT {_COLUMNS} FROM json_populate_recordset(NULL::callbacks, CAST(:rows AS json)) "
    "   ON CONFLICT DO NOTHING RETURNING id, complaint_id"
    "), armed AS ("
    "  INSERT INTO timers (kind, subject, due_at, payload) "
    "  SELECT w->>0, w->>1, CAST(w->>2 AS timestamptz), w->3 "
    "  FROM jsonb_array_elements(CAST(:timers AS jsonb)) AS e(w) "
    "  WHERE CAST(w->>1 AS uuid) IN (SELECT id FROM new)"
    "), sent AS ("
    "  INSERT INTO outbox (event_id, topic, key, shard, event_type, payload) "
    "  SELECT CAST(o->>0 AS uuid), :topic, o->>1, CAST(o->>2 AS smallint), o->>3, "
    "  CAST(o->>4 AS json) "
    "  FROM jsonb_array_elements(CAST(:events AS jsonb)) WITH ORDINALITY AS e(o, n) "
    "  WHERE CAST(o->>5 AS uuid) IN (SELECT id FROM new) ORDER BY n"
    ") "
    "SELECT new.id, coalesce((SELECT bool_or(c.state IN ('scheduled', 'due', 'overdue')) "
    "  FROM callbacks c WHERE c.complaint_id = new.complaint_id), false) AS others "
    "FROM new"
)


async def schedule_callbacks(
    session: AsyncSession,
    rows: list[dict[str, Any]],
    wakeups: list[Wakeup],
    topic: str,
    events: list[tuple[uuid.UUID, Outgoing]],
) -> dict[uuid.UUID, bool]:
    """Many new call-backs (rows with the keys of ``NEW_CALLBACK_COLUMNS``), the timers
    whose subject is one of them and the events (each with its call-back's id) in one
    statement; a call-back whose origin exists is not written, nor its timers and events.
    Returns the ids written, each with whether its complaint had an open call-back
    before."""
    if not rows:
        return {}
    params = {
        "rows": _json(rows),
        "timers": _json(wakeups),
        "topic": topic,
        "events": _json([
            [e.id, e.subject, shard_of(e.subject), e.type, e.payload, callback_id]
            for callback_id, e in events
        ]),
    }  # fmt: skip
    return {id_: others for id_, others in await session.execute(_SCHEDULE, params)}


def _json(rows: list[Any]) -> str:
    return orjson.dumps(rows).decode()


async def get_callback(
    session: AsyncSession, callback_id: uuid.UUID, *, lock: bool = False
) -> dict[str, Any] | None:
    query = sa.select(callbacks).where(callbacks.c.id == callback_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row else None


async def get_callbacks(
    session: AsyncSession, callback_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Many call-backs, locked (in the order given: sort them) for the transaction."""
    rows = await session.execute(
        sa.select(callbacks)
        .where(callbacks.c.id.in_(callback_ids))
        .order_by(callbacks.c.id)
        .with_for_update()
    )
    return {row["id"]: dict(row) for row in rows.mappings()}


async def set_state_many(
    session: AsyncSession, callback_ids: list[uuid.UUID], state: str, now: datetime
) -> None:
    if callback_ids:
        await session.execute(
            sa.update(callbacks)
            .where(callbacks.c.id.in_(callback_ids))
            .values(state=state, updated_at=now)
        )


async def update_callback(
    session: AsyncSession, callback_id: uuid.UUID, changes: dict[str, Any]
) -> None:
    await session.execute(
        sa.update(callbacks).where(callbacks.c.id == callback_id).values(**changes)
    )


async def latest_for_complaint(
    session: AsyncSession, complaint_id: uuid.UUID
) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                sa.select(callbacks)
                .where(callbacks.c.complaint_id == complaint_id)
                .order_by(callbacks.c.created_at.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def open_for_complaint(session: AsyncSession, complaint_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.execute(
        sa.select(callbacks.c.id).where(
            callbacks.c.complaint_id == complaint_id,
            callbacks.c.state.in_(["scheduled", "due", "overdue"]),
        )
    )
    return list(rows.scalars())


async def list_callbacks(
    session: AsyncSession,
    *,
    states: list[str] | None,
    due_before: datetime | None,
    tier_ranks: list[int] | None,
    kinds: list[str] | None,
    complaint_id: uuid.UUID | None,
    after: tuple[datetime, int, uuid.UUID] | None,
    limit: int,
    teams: tuple[str, ...] | None = None,
    assignee: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The work queue: soonest due first, then the most valuable tier (the higher of the
    tier now and before a drop: ``tier_rank``, which ``tier_ranks`` filters); keyset."""
    c = callbacks
    query = sa.select(c).order_by(c.c.due_at, c.c.tier_rank, c.c.id)
    if states:
        query = query.where(c.c.state.in_(states))
    if due_before is not None:
        query = query.where(c.c.due_at < due_before)
    if tier_ranks:
        query = query.where(c.c.tier_rank.in_(tier_ranks))
    if kinds:
        query = query.where(c.c.kind.in_(kinds))
    if complaint_id is not None:
        query = query.where(c.c.complaint_id == complaint_id)
    if teams is not None:
        query = query.where(c.c.team.in_(teams))
    if assignee is not None:
        query = query.where(c.c.assignee == assignee)
    if after is not None:
        query = query.where(sa.tuple_(c.c.due_at, c.c.tier_rank, c.c.id) > sa.tuple_(*after))
    rows = [dict(r) for r in (await session.execute(query.limit(limit + 1))).mappings()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(last["due_at"], last["tier_rank"], last["id"])
    return rows, next_cursor


async def record_activity(
    session: AsyncSession, kind: str, customer_id: str, reference: str, at: datetime
) -> bool:
    """False when this purchase or exchange was called about already (the same reference)."""
    inserted = await session.scalar(
        insert(activities)
        .values(kind=kind, customer_id=customer_id, reference=reference, at=at)
        .on_conflict_do_nothing()
        .returning(activities.c.reference)
    )
    return inserted is not None


async def link_activity(
    session: AsyncSession, kind: str, customer_id: str, reference: str, callback_id: uuid.UUID
) -> None:
    await session.execute(
        sa.update(activities)
        .where(
            activities.c.kind == kind,
            activities.c.customer_id == customer_id,
            activities.c.reference == reference,
        )
        .values(callback_id=callback_id)
    )


async def open_activity_call(
    session: AsyncSession, customer_id: str, kind: str
) -> dict[str, Any] | None:
    """The customer's open call of ``kind`` about their activity, locked (at most one)."""
    row = (
        (
            await session.execute(
                sa.select(callbacks)
                .where(
                    callbacks.c.customer_id == customer_id,
                    callbacks.c.kind == kind,
                    callbacks.c.state.in_(["scheduled", "due", "overdue"]),
                )
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def sla_stats(session: AsyncSession, since: datetime | None) -> list[dict[str, Any]]:
    """Per kind: call-backs by state, and how many went overdue (created since ``since``)."""
    c = callbacks
    query = sa.select(
        c.c.kind,
        c.c.state,
        sa.func.count().label("count"),
        sa.func.count(c.c.went_overdue_at).label("went_overdue"),
    ).group_by(c.c.kind, c.c.state)
    if since is not None:
        query = query.where(c.c.created_at >= since)
    return [dict(r) for r in (await session.execute(query)).mappings()]


async def add_attempt(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(sa.insert(attempts).values(**values))


async def get_attempts(session: AsyncSession, callback_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.execute(
        sa.select(attempts)
        .where(attempts.c.callback_id == callback_id)
        .order_by(attempts.c.attempt)
    )
    return [dict(r) for r in rows.mappings()]


async def add_survey_request(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False when the complaint's cycle (or the call-back) already has its survey."""
    inserted = await session.scalar(
        insert(survey_requests)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(survey_requests.c.survey_id)
    )
    return inserted is not None


# ---- customers and their activity ---------------------------------------------------------


async def upsert_customer(
    session: AsyncSession, customer_id: str, card: dict[str, Any], month: date, now: datetime
) -> dict[str, Any]:
    """Keep the latest contact card and the latest month with activity; returns the row,
    locked for this transaction (one customer's events are applied one at a time)."""
    stmt = insert(customers).values(
        customer_id=customer_id, card=card, last_activity_month=month, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[customers.c.customer_id],
        set_={
            "card": stmt.excluded.card,
            "last_activity_month": sa.func.greatest(
                customers.c.last_activity_month, stmt.excluded.last_activity_month
            ),
            "updated_at": stmt.excluded.updated_at,
        },
    ).returning(*customers.c)
    return dict((await session.execute(stmt)).mappings().one())


async def get_customer(
    session: AsyncSession, customer_id: str, *, lock: bool = False
) -> dict[str, Any] | None:
    query = sa.select(customers).where(customers.c.customer_id == customer_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row else None


async def record_visit_day(session: AsyncSession, customer_id: str, day: date, month: date) -> bool:
    """False when the customer already had activity that day (one visit a day)."""
    inserted = await session.scalar(
        insert(visit_days)
        .values(customer_id=customer_id, day=day, month=month)
        .on_conflict_do_nothing()
        .returning(visit_days.c.day)
    )
    return inserted is not None


async def visits_by_month(
    session: AsyncSession, customer_id: str, months: list[date]
) -> dict[date, int]:
    rows = await session.execute(
        sa.select(visit_days.c.month, sa.func.count())
        .where(visit_days.c.customer_id == customer_id, visit_days.c.month.in_(months))
        .group_by(visit_days.c.month)
    )
    found = {month: count for month, count in rows.all()}
    return {month: found.get(month, 0) for month in months}


async def set_reviewed(
    session: AsyncSession, customer_id: str, month: date, tier: str | None, now: datetime
) -> None:
    await session.execute(
        sa.update(customers)
        .where(customers.c.customer_id == customer_id)
        .values(reviewed_month=month, tier=tier, updated_at=now)
    )


async def add_tier_history(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(tier_history).values(**values).on_conflict_do_nothing())


async def get_tier_history(session: AsyncSession, customer_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        sa.select(tier_history)
        .where(tier_history.c.customer_id == customer_id)
        .order_by(tier_history.c.month)
    )
    return [dict(r) for r in rows.mappings()]


async def first_activity_month(session: AsyncSession, customer_id: str) -> date | None:
    return await session.scalar(
        sa.select(sa.func.min(visit_days.c.month)).where(visit_days.c.customer_id == customer_id)
    )
