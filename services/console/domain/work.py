"""My work: the cases of a queue, nearest deadline first, with how urgent each is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Urgency(StrEnum):
    BREACHED = "breached"  # a deadline passed
    NEAR = "near"  # the next deadline is within the warning window
    OK = "ok"
    NONE = "none"  # no clock running


@dataclass(frozen=True)
class QueueCase:
    complaint_id: str
    status: str
    level: str
    tier: str
    severity: str
    category: str
    customer_name: str | None
    next_deadline: datetime | None
    breached: bool
    team: str | None
    assignee: str | None
    assignee_name: str | None

    @classmethod
    def of(cls, raw: dict[str, Any]) -> QueueCase:
        deadline = raw.get("next_deadline")
        return cls(
            complaint_id=str(raw["complaint_id"]),
            status=raw["status"],
            level=raw["level"],
            tier=raw["tier"],
            severity=raw["severity"],
            category=raw["category"],
            customer_name=(raw.get("customer") or {}).get("name"),
            next_deadline=datetime.fromisoformat(deadline) if deadline else None,
            breached=bool(raw.get("breached")),
            team=raw.get("team"),
            assignee=raw.get("assignee"),
            assignee_name=raw.get("assignee_name"),
        )

    def urgency(self, now: datetime, warn_seconds: float) -> Urgency:
        if self.next_deadline is None:
            return Urgency.BREACHED if self.breached else Urgency.NONE
        left = (self.next_deadline - now).total_seconds()
        if left <= 0 or self.breached:
            return Urgency.BREACHED
        return Urgency.NEAR if left <= warn_seconds else Urgency.OK


def by_nearest_deadline(*queues: list[QueueCase]) -> list[QueueCase]:
    """One list of the queues' cases (each once), the nearest deadline first, the breached
    before the rest at equal deadlines, cases without a running clock last."""
    seen: dict[str, QueueCase] = {}
    for queue in queues:
        for case in queue:
            seen.setdefault(case.complaint_id, case)
    far = datetime.max.replace(tzinfo=None)

    def key(case: QueueCase) -> tuple[bool, datetime, bool]:
        deadline = case.next_deadline.replace(tzinfo=None) if case.next_deadline else far
        return (case.next_deadline is None, deadline, not case.breached)

    return sorted(seen.values(), key=key)


@dataclass(frozen=True)
class QueueFilters:
    """The filters of My work, passed through to escalation's GET /cases."""

    status: str | None = None
    level: str | None = None
    tier: str | None = None
    severity: str | None = None
    breached: bool | None = None

    @classmethod
    def parse(cls, params: dict[str, str]) -> QueueFilters:
        def pick(name: str) -> str | None:
            value = (params.get(name) or "").strip()
            return value or None

        breached = pick("breached")
        return cls(
            status=pick("status"),
            level=pick("level"),
            tier=pick("tier"),
            severity=pick("severity"),
            breached=None if breached is None else breached == "yes",
        )

    def query(self) -> dict[str, str]:
        out = {
            k: v
            for k, v in (
                ("status", self.status),
                ("level", self.level),
                ("tier", self.tier),
                ("severity", self.severity),
            )
            if v
        }
        if self.breached is not None:
            out["breached"] = "true" if self.breached else "false"
        return out
