"""What the service knows about one complaint, folded from the lifecycle events of intake,
escalation and follow-up. Every fold is order-independent (unions, maxima, counts), so a
rebuild that reads the topics in another interleaving reaches the same state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DIMENSIONS = ("channel", "category", "severity", "tier", "escalation_level")
UNKNOWN = "unknown"


@dataclass
class Facts:
    complaint_id: uuid.UUID
    channel: str | None = None
    category: str | None = None
    severity: str | None = None
    tier: str | None = None
    received_at: datetime | None = None
    opened_at: datetime | None = None
    handled: bool = False  # escalation told us about this complaint's clocks
    breached: set[str] = field(default_factory=set)
    highest_rank: int = -1
    highest_level: str | None = None
    resolved_at: datetime | None = None
    reopened_at: datetime | None = None
    case_reopens: int = 0
    followup_reopens: int = 0
    max_round: int = 1

    @property
    def started_at(self) -> datetime | None:
        return self.received_at or self.opened_at

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None and (
            self.reopened_at is None or self.resolved_at > self.reopened_at
        )

    @property
    def sla(self) -> str | None:
        """ "met", "missed", or None before escalation said anything."""
        if not self.handled:
            return None
        return "missed" if self.breached else "met"

    @property
    def reopens(self) -> int:
        # Follow-up asks (complaint.reopened), escalation reopens (case.reopened, round n+1):
        # the same reopen may be told by both, so take the largest count, not the sum.
        return max(self.case_reopens, self.followup_reopens, self.max_round - 1)

    @property
    def cycles(self) -> int:
        """The resolution cycles so far: the first, and one more for each reopen. It is the
        cycle an answer given now measures."""
        return 1 + self.reopens

    @property
    def seconds_to_resolve(self) -> float | None:
        if not self.resolved or self.started_at is None:
            return None
        return max(0.0, (self.resolved_at - self.started_at).total_seconds())  # type: ignore[operator]

    def dimension_values(self) -> dict[str, str]:
        return {
            "all": "all",
            "channel": self.channel or UNKNOWN,
            "category": self.category or UNKNOWN,
            "severity": self.severity or UNKNOWN,
            "tier": self.tier or UNKNOWN,
            "escalation_level": self.highest_level or UNKNOWN,
        }


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _ts(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


FACT_EVENTS = frozenset(
    {
        "complaint.received",
        "case.opened",
        "case.escalated",
        "case.acknowledged",
        "case.sla_breached",
        "case.resolved",
        "case.reopened",
        "complaint.reopened",
    }
)


def fold(facts: Facts, event_type: str, data: dict[str, Any], ladder: list[str]) -> None:
    """Apply one lifecycle event's data to ``facts`` (in place)."""
    if event_type == "complaint.received":
        facts.channel = data["channel"]
        facts.category = data["category"]
        facts.severity = data["severity"]
        facts.tier = (data.get("customer") or {}).get("tier") or facts.tier
        facts.received_at = _earlier(facts.received_at, _ts(data["received_at"]))
        return
    if event_type == "complaint.reopened":
        facts.followup_reopens += 1
        facts.reopened_at = _later(facts.reopened_at, _ts(data["at"]))
        return
    facts.handled = True
    if event_type == "case.opened":
        facts.opened_at = _earlier(facts.opened_at, _ts(data["opened_at"]))
        facts.channel = facts.channel or data.get("channel")
        facts.category = facts.category or data.get("category")
        facts.severity = facts.severity or data.get("severity")
        facts.tier = facts.tier or data.get("tier")
        _reach(facts, data.get("level"), ladder)
    elif event_type == "case.escalated":
        _reach(facts, data.get("to_level"), ladder)
    elif event_type == "case.acknowledged":
        _reach(facts, data.get("level"), ladder)
    elif event_type == "case.sla_breached":
        facts.breached.add(data["clock"])
    elif event_type == "case.resolved":
        facts.resolved_at = _later(facts.resolved_at, _ts(data["at"]))
        facts.breached |= {c for c, met in (data.get("clocks_met") or {}).items() if not met}
        facts.max_round = max(facts.max_round, int(data.get("round") or 1))
        _reach(facts, data.get("highest_level"), ladder)
        facts.channel = facts.channel or data.get("channel")
        facts.category = facts.category or data.get("category")
        facts.severity = facts.severity or data.get("severity")
        facts.tier = facts.tier or data.get("tier") or (data.get("customer") or {}).get("tier")
    elif event_type == "case.reopened":
        facts.case_reopens += 1
        facts.reopened_at = _later(facts.reopened_at, _ts(data["at"]))
        facts.max_round = max(facts.max_round, int(data.get("round") or 1))


def rank_of(level: str, ladder: list[str]) -> int:
    return ladder.index(level) if level in ladder else len(ladder)


def _reach(facts: Facts, level: str | None, ladder: list[str]) -> None:
    if not level:
        return
    rank = rank_of(level, ladder)
    # Ties (two unknown names) break by name so the result does not depend on order.
    if (rank, level) > (facts.highest_rank, facts.highest_level or ""):
        facts.highest_rank, facts.highest_level = rank, level
