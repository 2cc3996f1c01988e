"""Opening cases: the new cases, their timeline, their one timer each and their events
written with ONE statement (data-modifying CTEs), however many complaints a batch holds. The
rows of a complaint whose case exists already (a second delivery) are dropped by the
statement itself, as its case's insert returns nothing: no lookup first."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.escalation.domain.case import Case
from services.escalation.store import outbox_rows, wake
from services.escalation.store import repository as repo
from shared.messaging.outbox import shard_of

# Each table's rows travel as one JSON document (orjson writes it in one call; PostgreSQL
# parses it in C), not as arrays asyncpg encodes element by element: a row is a JSON array
# read by position. WITH ORDINALITY ... ORDER BY: the timeline's and the outbox's ids follow
# the events' order (the relay publishes a key's events in id order); an outbox payload is a
# JSON string holding the exact bytes to publish. Timers: shared.timers' table, a case's one
# wake-up (store/wake.py; payload: the column's default); outbox: the rows outbox_rows.add
# writes.
_OPEN = sa.text(
    f"WITH opened AS ("
    f"  INSERT INTO cases ({repo.CASE_COLUMNS}) SELECT {repo.CASE_COLUMNS} "
    "   FROM jsonb_populate_recordset(NULL::cases, CAST(:cases AS jsonb)) "
    "   ON CONFLICT (complaint_id) DO NOTHING RETURNING complaint_id"
    "), steps AS ("
    "  INSERT INTO case_timeline (complaint_id, at, type, by, data) "
    "  SELECT CAST(s->>0 AS uuid), CAST(s->>1 AS timestamptz), s->>2, s->>3, s->4 "
    "  FROM jsonb_array_elements(CAST(:steps AS jsonb)) WITH ORDINALITY AS e(s, n) "
    "  WHERE CAST(s->>0 AS uuid) IN (SELECT complaint_id FROM opened) ORDER BY n"
    "), armed AS ("
    "  INSERT INTO timers (kind, subject, due_at) "
    f"  SELECT '{wake.KIND}', w->>0, CAST(w->>1 AS timestamptz) "
    "  FROM jsonb_array_elements(CAST(:timers AS jsonb)) AS e(w) "
    "  WHERE CAST(w->>0 AS uuid) IN (SELECT complaint_id FROM opened)"
    "), sent AS ("
    "  INSERT INTO outbox (event_id, topic, key, shard, event_type, payload) "
    "  SELECT CAST(o->>0 AS uuid), o->>1, o->>2, CAST(o->>3 AS smallint), o->>4, "
    "  CAST(o->>5 AS json) "
    "  FROM jsonb_array_elements(CAST(:events AS jsonb)) WITH ORDINALITY AS e(o, n) "
    "  WHERE CAST(o->>2 AS uuid) IN (SELECT complaint_id FROM opened) ORDER BY n"
    ") SELECT complaint_id FROM opened"
)


def _json(rows: list[Any]) -> str:
    return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()


def rows(
    now: datetime,
    found: list[Case],
    steps: list[repo.Entry],
    topic: str,
    events: Sequence[outbox_rows.Outgoing],
) -> dict[str, str]:
    """The parameters of the statement that opens ``found`` (CPU only: no I/O)."""
    wakeups = [(str(c.complaint_id), due) for c in found if (due := c.next_wakeup()) is not None]
    return {
        "cases": repo.case_rows(found, now),
        "steps": _json([
            [s.subject, repo.moment(s), s.event.event_type, s.data.get("by"), s.data]
            for s in steps
        ]),
        "timers": _json(wakeups),
        "events": _json([
            [e.id, topic, e.subject, shard_of(e.subject), e.type, e.payload] for e in events
        ]),
    }  # fmt: skip


async def write(session: AsyncSession, params: dict[str, str]) -> set[uuid.UUID]:
    """Insert the cases of ``params`` (``rows``) that do not exist yet with their rows;
    returns their ids."""
    return set((await session.execute(_OPEN, params)).scalars())


async def open_cases(
    session: AsyncSession,
    now: datetime,
    found: list[Case],
    steps: list[repo.Entry],
    topic: str,
    events: Sequence[outbox_rows.Outgoing],
) -> set[uuid.UUID]:
    """Insert the cases that do not exist yet with their rows; returns their ids."""
    if not found:
        return set()
    return await write(session, rows(now, found, steps, topic, events))
