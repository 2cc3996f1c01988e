"""Opening cases: the new cases, their timeline, their timers and their events written with
ONE statement (data-modifying CTEs), however many complaints a batch holds. The rows of a
complaint whose case exists already (a second delivery) are dropped by the statement itself,
as its case's insert returns nothing: no lookup first."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.escalation.domain.case import Case
from services.escalation.store import outbox_rows
from services.escalation.store import repository as repo

Wakeup = tuple[str, str, datetime, dict[str, Any]]  # kind, subject, due, payload

# WITH ORDINALITY ... ORDER BY: the timeline's and the outbox's ids follow the events' order
# (the relay publishes a key's events in id order). Timers: shared.timers' table, the rows
# timers.arm_many writes; outbox: the rows outbox_rows.add writes.
_OPEN = sa.text(
    f"WITH opened AS ("
    f"  INSERT INTO cases ({repo.CASE_COLUMNS}) SELECT {repo.CASE_COLUMNS} "
    "   FROM jsonb_populate_recordset(NULL::cases, CAST(:cases AS jsonb)) "
    "   ON CONFLICT (complaint_id) DO NOTHING RETURNING complaint_id"
    "), steps AS ("
    "  INSERT INTO case_timeline (complaint_id, at, type, by, data) "
    "  SELECT s.complaint_id, s.at, s.type, s.by, s.data FROM unnest("
    "    CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[]), CAST(:types AS text[]), "
    "    CAST(:bys AS text[]), CAST(:data AS jsonb[])"
    "  ) WITH ORDINALITY AS s(complaint_id, at, type, by, data, n) "
    "  WHERE s.complaint_id IN (SELECT complaint_id FROM opened) ORDER BY s.n"
    "), armed AS ("
    "  INSERT INTO timers (kind, subject, due_at, payload) "
    "  SELECT w.kind, w.subject, w.due_at, w.payload FROM unnest("
    "    CAST(:w_kinds AS text[]), CAST(:w_subjects AS text[]), "
    "    CAST(:w_dues AS timestamptz[]), CAST(:w_payloads AS jsonb[])"
    "  ) AS w(kind, subject, due_at, payload) "
    "  WHERE CAST(w.subject AS uuid) IN (SELECT complaint_id FROM opened)"
    "), sent AS ("
    "  INSERT INTO outbox (event_id, topic, key, shard, event_type, payload) "
    "  SELECT o.event_id, o.topic, o.key, o.shard, o.event_type, o.payload FROM unnest("
    "    CAST(:o_ids AS uuid[]), CAST(:o_topics AS text[]), CAST(:o_keys AS text[]), "
    "    CAST(:o_shards AS smallint[]), CAST(:o_types AS text[]), CAST(:o_payloads AS json[])"
    "  ) WITH ORDINALITY AS o(event_id, topic, key, shard, event_type, payload, n) "
    "  WHERE CAST(o.key AS uuid) IN (SELECT complaint_id FROM opened) ORDER BY o.n"
    ") SELECT complaint_id FROM opened"
)


async def open_cases(
    session: AsyncSession,
    now: datetime,
    found: list[Case],
    steps: list[repo.Entry],
    wakeups: list[Wakeup],
    topic: str,
    events: Sequence[outbox_rows.Outgoing],
) -> set[uuid.UUID]:
    """Insert the cases that do not exist yet with their rows; returns their ids."""
    if not found:
        return set()
    params: dict[str, Any] = {"cases": repo.case_rows(found, now)}
    params |= repo.timeline_params(steps)
    params |= wakeup_params(wakeups)
    params |= {f"o_{name}": values for name, values in outbox_rows.params(topic, events).items()}
    return set((await session.execute(_OPEN, params)).scalars())


def wakeup_params(wakeups: list[Wakeup]) -> dict[str, list[Any]]:
    """Timers to arm, as the arrays of ``:w_kinds`` ... ``:w_payloads``."""
    return {
        "w_kinds": [w[0] for w in wakeups],
        "w_subjects": [w[1] for w in wakeups],
        "w_dues": [w[2] for w in wakeups],
        "w_payloads": [orjson.dumps(w[3]).decode() for w in wakeups],
    }
