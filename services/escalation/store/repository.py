"""Queries over escalation's tables. Functions take the caller's session: the caller owns the
transaction, so a case, its timeline, its timers and its outbox events commit together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.escalation.domain.authority import (
    AbuseFlag,
    CompensationRequest,
    PendingPlan,
    Refusal,
)
from services.escalation.domain.case import Case, Clock, Outcome, Status
from services.escalation.store.tables import cases, sla_outcomes, timeline
from shared.events.common import Channel, ContactCard, EventData, Mode, Severity, Tier
from shared.events.handling import CaseOutcome
from shared.web.pagination import encode_cursor


def _row(case: Case, now: datetime) -> dict[str, Any]:
    """The case's columns, for orjson: the clocks go as they are, since orjson writes a
    dataclass as its fields in order and a datetime as isoformat() does, the very document
    of Clock.to_json (a unit test holds them equal), five times faster."""
    return {
        "complaint_id": str(case.complaint_id),  # read back, it is asyncpg's own UUID type
        "status": case.status.value,
        "level": case.level,
        "highest_level": case.highest_level,
        "mode": case.mode.value,
        "severity": case.severity.value,
        "tier": case.tier.value,
        "channel": case.channel.value,
        "category": case.category,
        "customer": case.customer.model_dump(mode="json"),
        "policy_version": case.policy_version,
        "round": case.round,
        "received_at": case.received_at,
        "opened_at": case.opened_at,
        "clocks": case.clocks,
        "climb_due": case.climb_due,
        "paused_at": case.paused_at,
        "status_before_pause": case.status_before_pause.value if case.status_before_pause else None,
        "paused_seconds": case.paused_seconds,
        "outcome": case.outcome.value if case.outcome else None,
        "next_deadline": case.next_deadline(),
        "breached": case.breached(),
        "updated_at": now,
        "site": case.site,
        "team": case.team,
        "assignee": case.assignee,
        "assignee_name": case.assignee_name,
        "authority": _authority(case),
        "awaiting_approval": case.pending_plan is not None or case.compensation_request is not None,
    }


def _authority(case: Case) -> dict[str, Any]:
    def when(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "pending_plan": case.pending_plan.to_json() if case.pending_plan else None,
        "approval_wait_seconds": case.approval_wait_seconds,
        "compensation_request": case.compensation_request.to_json()
        if case.compensation_request
        else None,
        "abuse_flags": [f.to_json() for f in case.abuse_flags],
        "refusal": case.refusal.to_json() if case.refusal else None,
        "status_before_refusal": case.status_before_refusal.value
        if case.status_before_refusal
        else None,
        "pause_remind_at": when(case.pause_remind_at),
        "pause_reminders": case.pause_reminders,
    }


def _authority_fields(raw: dict[str, Any]) -> dict[str, Any]:
    def some(key: str, parse: Any) -> Any:
        return parse(raw[key]) if raw.get(key) is not None else None

    return {
        "pending_plan": some("pending_plan", PendingPlan.from_json),
        "approval_wait_seconds": raw.get("approval_wait_seconds", 0.0),
        "compensation_request": some("compensation_request", CompensationRequest.from_json),
        "abuse_flags": [AbuseFlag.from_json(f) for f in raw.get("abuse_flags", [])],
        "refusal": some("refusal", Refusal.from_json),
        "status_before_refusal": some("status_before_refusal", Status),
        "pause_remind_at": some("pause_remind_at", datetime.fromisoformat),
        "pause_reminders": raw.get("pause_reminders", 0),
    }


def case_from_row(row: Any) -> Case:
    return Case(
        complaint_id=row["complaint_id"],
        mode=Mode(row["mode"]),
        severity=Severity(row["severity"]),
        tier=Tier(row["tier"]),
        channel=Channel(row["channel"]),
        category=row["category"],
        customer=ContactCard.model_validate(row["customer"]),
        policy_version=row["policy_version"],
        received_at=row["received_at"],
        status=Status(row["status"]),
        level=row["level"],
        highest_level=row["highest_level"],
        round=row["round"],
        opened_at=row["opened_at"],
        clocks={n: Clock.from_json(c) for n, c in row["clocks"].items()},
        climb_due=row["climb_due"],
        paused_at=row["paused_at"],
        status_before_pause=Status(row["status_before_pause"])
        if row["status_before_pause"]
        else None,
        paused_seconds=row["paused_seconds"],
        outcome=CaseOutcome(row["outcome"]) if row["outcome"] else None,
        site=row["site"],
        team=row["team"],
        assignee=row["assignee"],
        assignee_name=row["assignee_name"],
        **_authority_fields(row["authority"] or {}),
    )


def case_rows(found: list[Case], now: datetime) -> str:
    """New cases as one JSON array, which PostgreSQL turns into records of the table's type
    (``jsonb_populate_recordset``): one parameter and one SQL text whatever their number."""
    rows = [_row(case, now) for case in found]
    return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()


def case_row(case: Case, now: datetime) -> str:
    """A case as the JSON object ``jsonb_populate_record`` turns into a row of the table."""
    return orjson.dumps(_row(case, now), option=orjson.OPT_NON_STR_KEYS).decode()


CASE_COLUMNS = ", ".join(f'"{column.name}"' for column in cases.c)


async def get_case(
    session: AsyncSession, complaint_id: uuid.UUID, *, lock: bool = False
) -> Case | None:
    query = sa.select(cases).where(cases.c.complaint_id == complaint_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return case_from_row(row) if row else None


@dataclass(frozen=True)
class Entry:
    """One event of a case, dumped to JSON once: its timeline row and its outbox envelope
    are both made from ``data``."""

    complaint_id: uuid.UUID
    event: EventData
    data: dict[str, Any]
    subject: str  # the complaint id as text (the record key), made once per case


def entries(complaint_id: uuid.UUID, events: list[EventData]) -> list[Entry]:
    subject = str(complaint_id)
    return [Entry(complaint_id, e, e.model_dump(mode="json"), subject) for e in events]


def moment(entry: Entry) -> datetime | None:
    """When the step happened."""
    # vars(), not getattr(): a pydantic model's missing attribute costs an exception.
    fields = vars(entry.event)
    return fields.get("at") or fields.get("opened_at")


def timeline_params(found: list[Entry]) -> dict[str, list[Any]]:
    return {
        "ids": [e.complaint_id for e in found],
        "ats": [moment(e) for e in found],
        "types": [e.event.event_type for e in found],
        "bys": [e.data.get("by") for e in found],
        "data": [orjson.dumps(e.data).decode() for e in found],
    }


async def get_timeline(session: AsyncSession, complaint_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.execute(
        sa.select(timeline.c.at, timeline.c.type, timeline.c.by, timeline.c.data)
        .where(timeline.c.complaint_id == complaint_id)
        .order_by(timeline.c.id)
    )
    return [dict(r) for r in rows.mappings()]


async def add_outcomes_of(
    session: AsyncSession, found: list[tuple[uuid.UUID, list[Outcome]]]
) -> None:
    """The decided clocks of one case or many, in one statement (none: no statement)."""
    if any(outcomes for _, outcomes in found):
        await session.execute(_ADD_OUTCOMES, outcome_params(found))


def outcome_params(found: list[tuple[uuid.UUID, list[Outcome]]]) -> dict[str, list[Any]]:
    rows = [(complaint_id, o) for complaint_id, outcomes in found for o in outcomes]
    return {
        "ids": [complaint_id for complaint_id, _ in rows],
        "rounds": [o.round for _, o in rows],
        "clocks": [o.clock for _, o in rows],
        "levels": [o.level for _, o in rows],
        "deadlines": [o.deadline for _, o in rows],
        "on_time": [o.on_time for _, o in rows],
        "decided": [o.decided_at for _, o in rows],
    }


# One SQL text whatever the number of rows; a clock decided before stays as it was.
_ADD_OUTCOMES = sa.text(
    "INSERT INTO sla_outcomes (complaint_id, round, clock, level, deadline, on_time, "
    "decided_at) SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:rounds AS integer[]), "
    "CAST(:clocks AS text[]), CAST(:levels AS text[]), CAST(:deadlines AS timestamptz[]), "
    "CAST(:on_time AS boolean[]), CAST(:decided AS timestamptz[])) ON CONFLICT DO NOTHING"
)


# ---- listing and statistics ----------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    level: str | None = None
    tier: str | None = None
    severity: str | None = None
    overdue: bool | None = None
    breached: bool | None = None
    teams: tuple[str, ...] | None = None  # any of these teams' queues
    assignee: str | None = None
    awaiting_approval: bool | None = None


async def list_cases(
    session: AsyncSession,
    found: CaseFilter,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[list[Case], str | None]:
    """Newest first, keyset-paginated on (received_at, complaint_id)."""
    query = sa.select(cases).order_by(cases.c.received_at.desc(), cases.c.complaint_id.desc())
    for column in ("status", "level", "tier", "severity", "assignee"):
        value = getattr(found, column)
        if value is not None:
            query = query.where(cases.c[column] == value)
    if found.teams is not None:
        query = query.where(cases.c.team.in_(found.teams))
    if found.overdue is not None:
        late = sa.and_(cases.c.next_deadline.is_not(None), cases.c.next_deadline < sa.func.now())
        query = query.where(late if found.overdue else sa.not_(late))
    if found.breached is not None:
        query = query.where(cases.c.breached.is_(found.breached))
    if found.awaiting_approval is not None:
        query = query.where(cases.c.awaiting_approval.is_(found.awaiting_approval))
    if after is not None:
        query = query.where(
            sa.tuple_(cases.c.received_at, cases.c.complaint_id) < sa.tuple_(*after)
        )
    rows = [case_from_row(r) for r in (await session.execute(query.limit(limit + 1))).mappings()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].received_at, rows[-1].complaint_id)
    return rows, next_cursor


async def sla_stats(
    session: AsyncSession, start: datetime, end: datetime, by: str
) -> list[dict[str, Any]]:
    """Clocks decided in [start, end), grouped by ``clock`` or ``level``."""
    column = sla_outcomes.c[by]
    rows = await session.execute(
        sa.select(
            column.label("key"),
            sa.func.count().label("total"),
            sa.func.count().filter(sla_outcomes.c.on_time).label("on_time"),
        )
        .where(sla_outcomes.c.decided_at >= start, sla_outcomes.c.decided_at < end)
        .group_by(column)
        .order_by(column)
    )
    return [dict(r) for r in rows.mappings()]
