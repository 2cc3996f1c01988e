"""Opening cases: the new cases, their timeline, their one timer each and their events
written with ONE statement (data-modifying CTEs), however many complaints it holds (the use
case sends a large batch a chunk at a time, preparing the next while one is written). The
rows of a complaint whose case exists already (a second delivery) are dropped by the
statement itself, as its case's insert returns nothing: no lookup first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.escalation.domain.case import Case
from services.escalation.store import repository as repo
from services.escalation.store import wake
from shared.db import driver_connection
from shared.events import outgoing
from shared.messaging.outbox import shard_of

# Each table's rows travel as one JSON document (orjson writes it in one call; PostgreSQL
# parses it in C), not as arrays asyncpg encodes element by element: a row is a JSON array
# read by position. A case's events make its timeline rows and its outbox rows alike: one
# document holds both (``events``), zipped with the events' data (``data``: each event's
# data JSON, a text array so that the texts pass unescaped), which becomes the timeline's
# data and, after the CloudEvent's attributes (outgoing.head), the outbox payload: the
# exact bytes to publish, the data sent once.
# WITH ORDINALITY ... ORDER BY: the timeline's and the outbox's ids follow the events'
# order (the relay publishes a key's events in id order). Timers: shared.timers' table, a
# case's one wake-up (store/wake.py; payload: the column's default).
_OPEN = (
    f"WITH opened AS ("
    f"  INSERT INTO cases ({repo.CASE_COLUMNS}) SELECT {repo.CASE_COLUMNS} "
    "   FROM jsonb_populate_recordset(NULL::cases, CAST($1 AS jsonb)) "
    "   ON CONFLICT (complaint_id) DO NOTHING RETURNING complaint_id"
    "), caused AS ("
    "  SELECT s, d, n FROM ROWS FROM (jsonb_array_elements(CAST($2 AS jsonb)), "
    "    unnest(CAST($3 AS text[]))) WITH ORDINALITY AS e(s, d, n) "
    "  WHERE CAST(s->>0 AS uuid) IN (SELECT complaint_id FROM opened)"
    "), steps AS ("
    "  INSERT INTO case_timeline (complaint_id, at, type, by, data) "
    "  SELECT CAST(s->>0 AS uuid), CAST(s->>1 AS timestamptz), s->>2, s->>3, CAST(d AS jsonb) "
    "  FROM caused ORDER BY n"
    "), armed AS ("
    "  INSERT INTO timers (kind, subject, due_at) "
    f"  SELECT '{wake.KIND}', w->>0, CAST(w->>1 AS timestamptz) "
    "  FROM jsonb_array_elements(CAST($4 AS jsonb)) AS e(w) "
    "  WHERE CAST(w->>0 AS uuid) IN (SELECT complaint_id FROM opened)"
    "), sent AS ("
    "  INSERT INTO outbox (event_id, topic, key, shard, event_type, payload) "
    "  SELECT CAST(s->>4 AS uuid), CAST($5 AS text), s->>0, CAST(s->>5 AS smallint), s->>2, "
    "  CAST(s->>6 || d || '}' AS json) FROM caused ORDER BY n"
    ") SELECT complaint_id FROM opened"
)


def _json(rows: list[Any]) -> str:
    return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()


def rows(
    now: datetime, found: list[Case], steps: list[repo.Entry], topic: str, source: str
) -> list[Any]:
    """The arguments of the statement that opens ``found`` with their events ``steps``
    (published from ``source`` to ``topic``): CPU only, no I/O."""
    wakeups = [(str(c.complaint_id), due) for c in found if (due := c.next_wakeup()) is not None]
    ids = outgoing.new_ids(len(steps))
    events = [
        [s.subject, repo.moment(s), s.event.event_type, s.data.get("by"), event_id,
         shard_of(s.subject), outgoing.head(source, s.subject, s.event, now, event_id)]
        for s, event_id in zip(steps, ids, strict=True)
    ]  # fmt: skip
    data = [orjson.dumps(s.data).decode() for s in steps]
    return [repo.case_rows(found, now), _json(events), data, _json(wakeups), topic]


async def write(session: AsyncSession, arguments: list[Any]) -> set[uuid.UUID]:
    """Insert the cases of ``arguments`` (``rows``) that do not exist yet with their rows;
    returns their ids. Straight to asyncpg (shared.db.driver_connection): SQLAlchemy's
    execution layer would cost more CPU than the statement's own parameters."""
    connection = await driver_connection(session)
    return {row[0] for row in await connection.fetch(_OPEN, *arguments)}


async def open_cases(
    session: AsyncSession,
    now: datetime,
    found: list[Case],
    steps: list[repo.Entry],
    topic: str,
    source: str,
) -> set[uuid.UUID]:
    """Insert the cases that do not exist yet with their rows; returns their ids."""
    if not found:
        return set()
    return await write(session, rows(now, found, steps, topic, source))
