"""Saving a case that changed, with what the change caused: the case row, its timeline, the
clocks decided, its one timer (re-armed when its time changed) and its events, in ONE
statement (data-modifying CTEs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.escalation.domain.case import Case
from services.escalation.store import outbox_rows, wake
from services.escalation.store import repository as repo
from services.escalation.store.tables import cases
from shared import timers
from shared.events.outgoing import Outgoing

_COLUMNS = ", ".join(f'"{c.name}"' for c in cases.c if c.name != "complaint_id")

# Timers: shared.timers' table. The case's pending timers other than its wake-up at
# :wake_due are cancelled (rows of the earlier kinds included, store/wake.py), skipping, as
# timers.cancel_unless_firing does, one a scheduler is firing right now (it fires, finds
# nothing due in the case, and does nothing) and the one this save fires (:firing: the
# scheduler marks it fired). The wake-up is armed unless already pending: the statement's
# CTEs all see the rows as they were before it, so an unchanged time writes no timer row.
# Outbox: the rows outbox_rows.add writes, in the events' order.
_SAVE = sa.text(
    f"WITH saved AS ("
    f"  UPDATE cases SET ({_COLUMNS}) = (SELECT {_COLUMNS} "
    "   FROM jsonb_populate_record(NULL::cases, CAST(:case AS jsonb))) "
    "   WHERE complaint_id = :complaint_id"
    "), steps AS ("
    "  INSERT INTO case_timeline (complaint_id, at, type, by, data) SELECT * FROM unnest("
    "    CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[]), CAST(:types AS text[]), "
    "    CAST(:bys AS text[]), CAST(:data AS jsonb[]))"
    "), decided AS ("
    "  INSERT INTO sla_outcomes (complaint_id, round, clock, level, deadline, on_time, "
    "  decided_at) SELECT * FROM unnest(CAST(:d_ids AS uuid[]), CAST(:d_rounds AS integer[]), "
    "    CAST(:d_clocks AS text[]), CAST(:d_levels AS text[]), "
    "    CAST(:d_deadlines AS timestamptz[]), CAST(:d_on_time AS boolean[]), "
    "    CAST(:d_decided AS timestamptz[])) ON CONFLICT DO NOTHING"
    "), pending AS ("
    f"  SELECT id, kind = '{wake.KIND}' AND due_at = CAST(:wake_due AS timestamptz) AS wanted "
    "  FROM timers WHERE subject = :subject AND fired_at IS NULL AND cancelled_at IS NULL "
    "  AND id IS DISTINCT FROM CAST(:firing AS bigint)"
    "), stale AS ("
    "  UPDATE timers SET cancelled_at = now() WHERE id IN ("
    "    SELECT id FROM timers WHERE id IN (SELECT id FROM pending WHERE wanted IS NOT TRUE) "
    "    AND fired_at IS NULL AND cancelled_at IS NULL FOR UPDATE SKIP LOCKED) RETURNING id"
    "), armed AS ("
    "  INSERT INTO timers (kind, subject, due_at) "
    f"  SELECT '{wake.KIND}', :subject, CAST(:wake_due AS timestamptz) "
    "  WHERE CAST(:wake_due AS timestamptz) IS NOT NULL "
    "  AND NOT EXISTS (SELECT FROM pending WHERE wanted)"
    "), sent AS ("
    "  INSERT INTO outbox (event_id, topic, key, shard, event_type, payload) "
    "  SELECT * FROM unnest("
    "    CAST(:o_ids AS uuid[]), CAST(:o_topics AS text[]), CAST(:o_keys AS text[]), "
    "    CAST(:o_shards AS smallint[]), CAST(:o_types AS text[]), CAST(:o_payloads AS json[]))"
    ") SELECT id FROM stale"
)


async def save_case(
    session: AsyncSession,
    case: Case,
    now: datetime,
    steps: list[repo.Entry],
    firing: int | None,
    topic: str,
    events: Sequence[Outgoing],
) -> None:
    """Save ``case`` (locked by the caller) with its timeline ``steps``, the clocks it
    decided (``case.outcomes``), its timer at its next wake-up (``firing``: the timer being
    fired now, if any) and ``events``."""
    subject = str(case.complaint_id)
    row = repo.case_row(case, now)
    params: dict[str, Any] = {
        "case": row,
        "complaint_id": case.complaint_id,
        "subject": subject,
        "wake_due": case.next_wakeup(),
        "firing": firing,
    }
    params |= repo.timeline_params(steps)
    decided = repo.outcome_params([(case.complaint_id, case.outcomes)])
    params |= {f"d_{name}": values for name, values in decided.items()}
    params |= {f"o_{name}": values for name, values in outbox_rows.params(topic, events).items()}
    cancelled = (await session.execute(_SAVE, params)).scalars().all()
    # A sibling timer of the scheduler's batch cancelled here must not fire.
    timers.note_cancelled(session, cancelled)
