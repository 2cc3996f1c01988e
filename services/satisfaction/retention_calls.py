"""Retention calls after a customer's tier dropped (DOMAIN.md, "Intake": "a drop in tier
triggers outreach"; seed 004 art. 3), and their outcomes, from follow-up's events:
``followup.scheduled`` of kind ``retention`` (the tiers, from and to), then
``followup.completed`` (reached: ``satisfied`` or not), ``followup.unreachable`` or
``followup.cancelled``. Keyed by the call-back; a retention call has no complaint, so these
events are keyed by the customer and touch no complaint's facts. Tolerant: other call-backs'
events are ignored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.satisfaction.store import retention_calls as store
from shared.events.envelope import Envelope
from shared.events.followup import (
    CallbackKind,
    FollowupCancelled,
    FollowupCompleted,
    FollowupScheduled,
    FollowupUnreachable,
)
from shared.events.versions import read
from shared.messaging.consumer import Handler

OUTCOMES = ("reached_satisfied", "reached_unsatisfied", "unreachable", "cancelled", "open")


async def apply(session: AsyncSession, event: Envelope) -> None:
    """Apply one follow-up event to the retention calls (a no-op for other call-backs)."""
    if event.type == FollowupScheduled.event_type:
        scheduled = read(FollowupScheduled, event.data)
        if scheduled.kind != CallbackKind.RETENTION:
            return
        change = scheduled.tier_change
        await store.note_scheduled(
            session,
            {
                "callback_id": scheduled.callback_id,
                "scheduled_at": event.time,
                "due_at": scheduled.due_at,
                "from_tier": change.from_tier.value if change else None,
                "to_tier": change.to_tier.value if change else scheduled.customer.tier.value,
                "month": change.month if change else None,
            },
        )
    elif event.type == FollowupCompleted.event_type:
        done = read(FollowupCompleted, event.data)
        # Only a retention call-back has no complaint (the contract, shared/events/followup.py).
        retention = done.kind == CallbackKind.RETENTION or (
            done.kind is None and done.complaint_id is None
        )
        if retention:
            outcome = "reached_satisfied" if done.satisfied else "reached_unsatisfied"
            await store.note_outcome(session, done.callback_id, outcome, done.at, create=True)
    elif event.type == FollowupUnreachable.event_type:
        lost = read(FollowupUnreachable, event.data)
        await store.note_outcome(
            session, lost.callback_id, "unreachable", lost.at, create=lost.complaint_id is None
        )
    elif event.type == FollowupCancelled.event_type:
        gone = read(FollowupCancelled, event.data)
        await store.note_outcome(
            session, gone.callback_id, "cancelled", gone.at, create=gone.complaint_id is None
        )


EVENTS = frozenset(
    {
        FollowupScheduled.event_type,
        FollowupCompleted.event_type,
        FollowupUnreachable.event_type,
        FollowupCancelled.event_type,
    }
)


def handlers() -> dict[str, Handler]:
    async def handle(session: AsyncSession, event: Envelope) -> None:
        await apply(session, event)

    return dict.fromkeys(EVENTS, handle)


def report(
    rows: list[tuple[str, str, str, int]], tier_key: Callable[[str], tuple[int, str]]
) -> dict[str, Any]:
    """The calls scheduled in a period by tier drop, with their outcomes: reached (and
    whether the customer was satisfied), unreachable, cancelled, still open."""
    drops: dict[tuple[str, str], dict[str, int]] = {}
    for from_tier, to_tier, outcome, n in rows:
        counts = drops.setdefault((from_tier, to_tier), dict.fromkeys(OUTCOMES, 0))
        counts[outcome if outcome in counts else "open"] += n
    totals = dict.fromkeys(OUTCOMES, 0)
    for counts in drops.values():
        for k, n in counts.items():
            totals[k] += n
    scheduled = sum(totals.values())
    reached = totals["reached_satisfied"] + totals["reached_unsatisfied"]
    ended = reached + totals["unreachable"]
    return {
        "scheduled": scheduled,
        "outcomes": totals,
        "reached_rate": None if not ended else reached / ended,
        "satisfied_rate": None if not reached else totals["reached_satisfied"] / reached,
        "by_drop": [
            {"from_tier": f, "to_tier": to, "scheduled": sum(c.values()), **c}
            for (f, to), c in sorted(drops.items(), key=lambda kv: (tier_key(kv[0][0]), kv[0][1]))
        ],
    }
