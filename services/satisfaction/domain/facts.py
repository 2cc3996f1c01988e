"""What the service knows about one complaint, folded from the lifecycle events of intake,
escalation and follow-up. Every fold is order-independent (unions, maxima, counts), so a
rebuild that reads the topics in another interleaving reaches the same state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
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
    # What the customer asked for and what the (latest) resolution gave, as outcome kinds.
    expected_outcome: str | None = None
    resolution_kind: str | None = None
    # An invalid complaint (complaint.rejected): never a case, counted apart.
    rejected_at: datetime | None = None
    rejection_reason: str | None = None
    # Waiting for the customer's contact data: received incomplete, until complaint.completed.
    awaiting_contact: bool = False
    contact_completed_at: datetime | None = None
    contact_closed_at: datetime | None = None  # closed as unreachable, the data never came
    # Clocks standing still: the sum of the pauses resumed (each case.resumed counted once by
    # the inbox) and escalation's own total where it reports one; the latest pause and resume.
    paused_seconds: float = 0.0
    paused_reported: float = 0.0
    paused_since: datetime | None = None
    resumed_last: datetime | None = None
    # Plans waiting for approval: decided waits summed, escalation's total where reported,
    # the latest submission and decision.
    approval_wait_seconds: float = 0.0
    approval_wait_reported: float = 0.0
    approval_asked_last: datetime | None = None
    approval_decided_last: datetime | None = None
    first_breach_at: datetime | None = None

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

    @property
    def paused_total(self) -> float:
        return max(self.paused_seconds, self.paused_reported)

    @property
    def approval_wait_total(self) -> float:
        return max(self.approval_wait_seconds, self.approval_wait_reported)

    @property
    def paused_now(self) -> bool:
        return self.paused_since is not None and (
            self.resumed_last is None or self.paused_since > self.resumed_last
        )

    @property
    def awaiting_approval_now(self) -> bool:
        return self.approval_asked_last is not None and (
            self.approval_decided_last is None
            or self.approval_asked_last > self.approval_decided_last
        )

    @property
    def contact_wait_seconds(self) -> float | None:
        """Received without contact data to the data completed (None: not waited, or still
        waiting)."""
        if not self.awaiting_contact or self.contact_completed_at is None:
            return None
        if self.received_at is None:
            return None
        return max(0.0, (self.contact_completed_at - self.received_at).total_seconds())

    @property
    def expectation(self) -> str | None:
        """ "same" when the resolution gave the kind of outcome the customer expected,
        "other" when it gave another, None when either is unknown."""
        if not self.resolved or not self.expected_outcome or not self.resolution_kind:
            return None
        return "same" if self.expected_outcome == self.resolution_kind else "other"

    def dimension_values(self) -> dict[str, str]:
        return {
            "all": "all",
            "channel": self.channel or UNKNOWN,
            "category": self.category or UNKNOWN,
            "severity": self.severity or UNKNOWN,
            "tier": self.tier or UNKNOWN,
            "escalation_level": self.highest_level or UNKNOWN,
        }


_VALUES = attrgetter(*(f.name for f in fields(Facts) if f.name != "breached"))


def state_of(facts: Facts) -> tuple[Any, ...]:
    """Everything ``facts`` holds, as one value to compare (a copy: later changes to
    ``facts`` do not show in it). Cheaper than copying the Facts."""
    return _VALUES(facts), frozenset(facts.breached)


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
        "complaint.rejected",
        "complaint.completed",
        # Intake's close of a complaint whose contact data never came: read by name.
        "complaint.closed_unreachable",
        "case.paused",
        "case.resumed",
        "case.closed",
        # Plan approval (escalation, when its policy asks for it): tolerant reads by name.
        "case.plan_submitted",
        "case.plan_approved",
        "case.plan_rejected",
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
        facts.expected_outcome = (data.get("expected_outcome") or {}).get("kind")
        if data.get("information_complete") is False:
            facts.awaiting_contact = True
        return
    if event_type == "complaint.rejected":
        facts.rejected_at = _earlier(facts.rejected_at, _ts(data["received_at"]))
        facts.rejection_reason = str(data["reason"])
        facts.channel = facts.channel or data.get("channel")
        facts.category = facts.category or data.get("category")
        facts.tier = facts.tier or (data.get("customer") or {}).get("tier")
        return
    if event_type == "complaint.closed_unreachable":
        facts.contact_closed_at = _earlier(facts.contact_closed_at, _ts(data["closed_at"]))
        facts.received_at = _earlier(facts.received_at, _ts(data.get("received_at")))
        facts.channel = facts.channel or data.get("channel")
        facts.category = facts.category or data.get("category")
        return
    if event_type == "complaint.completed":
        facts.contact_completed_at = _earlier(facts.contact_completed_at, _ts(data["completed_at"]))
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
        facts.first_breach_at = _earlier(facts.first_breach_at, _ts(data["at"]))
    elif event_type == "case.resolved":
        at = _ts(data["at"])
        if facts.resolved_at is None or at >= facts.resolved_at:  # type: ignore[operator]
            # The latest resolution's kind (ties: the larger name, whatever the order).
            kind = data.get("resolution_kind")
            if facts.resolved_at != at or (kind or "") > (facts.resolution_kind or ""):
                facts.resolution_kind = kind
        facts.resolved_at = _later(facts.resolved_at, at)
        facts.paused_reported = max(facts.paused_reported, float(data.get("paused_seconds") or 0))
        facts.approval_wait_reported = max(
            facts.approval_wait_reported, float(data.get("approval_wait_seconds") or 0)
        )
        facts.breached |= {c for c, met in (data.get("clocks_met") or {}).items() if not met}
        facts.max_round = max(facts.max_round, int(data.get("round") or 1))
        _reach(facts, data.get("highest_level"), ladder)
        facts.channel = facts.channel or data.get("channel")
        facts.category = facts.category or data.get("category")
        facts.severity = facts.severity or data.get("severity")
        facts.tier = facts.tier or data.get("tier") or (data.get("customer") or {}).get("tier")
    elif event_type == "case.paused":
        facts.paused_since = _later(facts.paused_since, _ts(data["at"]))
    elif event_type == "case.resumed":
        facts.resumed_last = _later(facts.resumed_last, _ts(data["at"]))
        facts.paused_seconds += float(data.get("paused_seconds") or 0)
    elif event_type == "case.closed":
        facts.paused_reported = max(facts.paused_reported, float(data.get("paused_seconds") or 0))
    elif event_type == "case.plan_submitted":
        facts.approval_asked_last = _later(facts.approval_asked_last, _ts(data["at"]))
    elif event_type in ("case.plan_approved", "case.plan_rejected"):
        facts.approval_decided_last = _later(facts.approval_decided_last, _ts(data["at"]))
        facts.approval_wait_seconds += float(data.get("waited_seconds") or 0)
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
