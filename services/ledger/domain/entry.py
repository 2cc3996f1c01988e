"""One complaint's line in the ledger, folded from the other services' events.

Readers are tolerant: every field is read with ``.get`` from the event's data, unknown fields
are ignored, and fields a newer producer adds (``by_name``, ``site``, ``team``, ``cycle``)
are used when present. Events of one complaint arrive in order per topic but not across
topics (an acknowledgement may come before the registration), so each event sets only what
it tells and the status is derived from the dates, never stored as a step of a machine.
Customer ids and tiers only: names and phone numbers never enter the ledger."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    REJECTED = "rejected"  # invalid: recorded and answered with the reason
    OPEN = "open"
    RESOLVED = "resolved"  # resolved, awaiting the customer's confirmation
    SUSPENDED = "suspended"  # moved to a court or an outside body
    CLOSED = "closed"


UNRESOLVED = frozenset({Status.OPEN})


@dataclass
class LedgerEntry:
    complaint_id: uuid.UUID
    # registration
    received_at: datetime | None = None
    channel: str | None = None
    site: str | None = None
    subject_kind: str | None = None
    subject_reference: str | None = None
    category: str | None = None
    severity: str | None = None
    valid: bool | None = None
    rejection_reason: str | None = None
    customer_id: str | None = None
    tier: str | None = None
    expected_outcome: str | None = None
    # acceptance
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_by_name: str | None = None
    # investigation
    investigated_at: datetime | None = None
    investigated_by: str | None = None
    investigated_by_name: str | None = None
    findings: str | None = None
    # plan
    planned_at: datetime | None = None
    planned_by: str | None = None
    planned_by_name: str | None = None
    plan: str | None = None
    # result
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolved_by_name: str | None = None
    resolution: str | None = None
    compensation: str | None = None
    clocks_met: dict[str, bool] = field(default_factory=dict)
    breached_clocks: list[str] = field(default_factory=list)
    suspended_at: datetime | None = None
    closed_at: datetime | None = None
    closed_outcome: str | None = None
    closed_by: str | None = None
    # rounds: a round per resolution cycle; reopens counted from either service
    round: int = 1
    reopened_at: datetime | None = None
    case_reopens: int = 0
    followup_reopens: int = 0
    # who owns it now
    rung: str | None = None
    highest_rung: str | None = None
    team: str | None = None
    assignee: str | None = None
    assignee_name: str | None = None
    # satisfaction: one answer per cycle, [{cycle, level, score, factors, at}]
    satisfaction: list[dict[str, Any]] = field(default_factory=list)
    updated_at: datetime | None = None
    # erasure (domain/erasure.py): the pseudonym that replaced the customer id, and when
    erased_as: str | None = None
    erased_at: datetime | None = None

    @property
    def status(self) -> Status:
        if self.valid is False:
            return Status.REJECTED
        if self.closed_at is not None:
            return Status.CLOSED
        if self.suspended_at is not None:
            return Status.SUSPENDED
        if self.resolved_at is not None and (
            self.reopened_at is None or self.resolved_at > self.reopened_at
        ):
            return Status.RESOLVED
        return Status.OPEN

    @property
    def reopens(self) -> int:
        # The same reopen may be told by follow-up and by escalation: the largest count.
        return max(self.case_reopens, self.followup_reopens, self.round - 1)

    @property
    def latest_satisfaction(self) -> dict[str, Any] | None:
        return max(self.satisfaction, key=lambda s: (s["cycle"], s["at"]), default=None)

    def row(self) -> dict[str, Any]:
        """The columns of the store (the derived status and reopens included)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return values | {"status": self.status.value, "reopens": self.reopens}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> LedgerEntry:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})


def _ts(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _set_step(entry: LedgerEntry, step: str, data: dict[str, Any]) -> None:
    """A handling step (acknowledged, investigated, planned, resolved): the newest wins (a
    reopened complaint goes through them again)."""
    at = _ts(data.get("at"))
    current = getattr(entry, f"{step}_at")
    if current is not None and at is not None and at < current:
        return
    setattr(entry, f"{step}_at", at)
    setattr(entry, f"{step}_by", data.get("by"))
    setattr(entry, f"{step}_by_name", data.get("by_name"))


def _registration(entry: LedgerEntry, data: dict[str, Any]) -> None:
    entry.received_at = _ts(data.get("received_at")) or entry.received_at
    entry.channel = data.get("channel") or entry.channel
    entry.category = data.get("category") or entry.category
    customer = data.get("customer") or {}
    entry.customer_id = customer.get("id") or entry.customer_id
    entry.tier = customer.get("tier") or entry.tier
    subject = data.get("subject") or {}
    if subject:
        entry.subject_kind = subject.get("kind")
        entry.subject_reference = subject.get("reference")
    entry.site = data.get("site") or entry.site or site_of(subject)


def site_of(subject: dict[str, Any]) -> str | None:
    """Intake names a site as a subject of kind ``site``; later producers say ``site``."""
    if subject.get("kind") == "site":
        return subject.get("reference") or subject.get("name")
    return None


def fold(entry: LedgerEntry, event_type: str, data: dict[str, Any]) -> bool:
    """Apply one event to the entry; False when the event says nothing the ledger keeps."""
    match event_type:
        case "complaint.received":
            _registration(entry, data)
            entry.valid = True if entry.valid is None else entry.valid
            entry.severity = data.get("severity") or entry.severity
            expected = data.get("expected_outcome") or {}
            entry.expected_outcome = expected.get("kind") or entry.expected_outcome
        case "complaint.rejected":
            _registration(entry, data)
            entry.valid = False
            entry.rejection_reason = data.get("reason")
        case "complaint.completed":
            customer = data.get("customer") or {}
            entry.customer_id = customer.get("id") or entry.customer_id
            entry.tier = customer.get("tier") or entry.tier
        case "case.opened":
            entry.channel = entry.channel or data.get("channel")
            entry.category = entry.category or data.get("category")
            entry.severity = data.get("severity") or entry.severity
            entry.tier = entry.tier or data.get("tier")
            entry.site = data.get("site") or entry.site
            entry.rung = entry.rung or data.get("level")
            entry.highest_rung = entry.highest_rung or data.get("level")
            entry.received_at = entry.received_at or _ts(data.get("opened_at"))
        case "case.acknowledged":
            _set_step(entry, "acknowledged", data)
        case "case.investigated":
            _set_step(entry, "investigated", data)
            if entry.investigated_at == _ts(data.get("at")):
                entry.findings = data.get("findings")
        case "case.plan_recorded":
            _set_step(entry, "planned", data)
            if entry.planned_at == _ts(data.get("at")):
                entry.plan = data.get("plan")
        case "case.resolved":
            _set_step(entry, "resolved", data)
            if entry.resolved_at == _ts(data.get("at")):
                entry.resolution = data.get("resolution")
                entry.compensation = data.get("compensation")
                entry.clocks_met = {**entry.clocks_met, **(data.get("clocks_met") or {})}
                entry.round = max(entry.round, int(data.get("round") or 1))
                entry.highest_rung = data.get("highest_level") or entry.highest_rung
                entry.rung = data.get("level") or entry.rung
                entry.team = data.get("team") or entry.team
                entry.site = data.get("site") or entry.site
        case "case.sla_breached":
            clock = data.get("clock")
            if clock and clock not in entry.breached_clocks:
                entry.breached_clocks = [*entry.breached_clocks, clock]
        case "case.escalated":
            entry.rung = data.get("to_level") or entry.rung
            entry.highest_rung = data.get("to_level") or entry.highest_rung
        case "case.assigned":
            entry.rung = data.get("rung") or entry.rung
            entry.team = data.get("team") or entry.team
            entry.assignee = data.get("assignee")
            entry.assignee_name = data.get("assignee_name")
        case "case.forwarded":
            entry.team = data.get("to_team") or entry.team
        case "case.reopened":
            entry.reopened_at = _later(entry.reopened_at, _ts(data.get("at")))
            entry.round = max(entry.round, int(data.get("round") or entry.round + 1))
            entry.case_reopens += 1
        case "complaint.reopened":
            entry.reopened_at = _later(entry.reopened_at, _ts(data.get("at")))
            entry.followup_reopens += 1
        case "case.suspended":
            entry.suspended_at = _ts(data.get("at"))
            entry.closed_outcome = data.get("reason")
        case "case.closed":
            entry.closed_at = _ts(data.get("at"))
            entry.closed_outcome = data.get("outcome")
            entry.closed_by = data.get("by")
        case "complaint.closed_unreachable":
            # The contact data never came: no case was opened; closed with that outcome.
            _registration(entry, data)
            entry.valid = True if entry.valid is None else entry.valid
            entry.closed_at = _ts(data.get("closed_at"))
            entry.closed_outcome = "unreachable"
        case "survey.recorded":
            _survey(entry, data)
        case _:
            return False
    return True


def _survey(entry: LedgerEntry, data: dict[str, Any]) -> None:
    # Version 2 names the cycle; version 1 answers the cycle the complaint is in.
    cycle = int(data.get("cycle") or entry.round)
    answer = {
        "cycle": cycle,
        "level": data.get("level"),
        "score": int(data.get("score") or 0),
        "factors": list(data.get("factors") or []),
        "at": str(data.get("recorded_at") or ""),
    }
    others = [s for s in entry.satisfaction if s["cycle"] != cycle]
    entry.satisfaction = sorted([*others, answer], key=lambda s: s["cycle"])
    if data.get("tier") and entry.tier is None:
        entry.tier = data.get("tier")


HANDLED = frozenset(
    {
        "complaint.received",
        "complaint.rejected",
        "complaint.completed",
        "case.opened",
        "case.acknowledged",
        "case.investigated",
        "case.plan_recorded",
        "case.resolved",
        "case.sla_breached",
        "case.escalated",
        "case.assigned",
        "case.forwarded",
        "case.reopened",
        "complaint.reopened",
        "case.suspended",
        "case.closed",
        "complaint.closed_unreachable",
        "survey.recorded",
    }
)
