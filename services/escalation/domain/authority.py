"""Who may decide what on a case, pure: plan approval per severity, compensation limits per
role, refusing service to an abusive customer (DOMAIN.md: "a plan approved by the
responsible manager", "any waiter may comp one or two dishes", art. 8).

Roles are the staff directory's, lowest first (``shared.directory.StaffRole``); a person
acts with the highest of theirs. Limits are per role, not per rung of the ladder: what a
person may grant follows them, whichever rung the case is on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from shared.directory import StaffRole

ROLES: tuple[StaffRole, ...] = tuple(StaffRole)


def rank(role: StaffRole | str | None) -> int:
    """Position of ``role`` among the roles; -1 for none or an unknown one."""
    try:
        return ROLES.index(StaffRole(role)) if role is not None else -1
    except ValueError:
        return -1


def at_least(role: StaffRole | str | None, needed: StaffRole) -> bool:
    return rank(role) >= rank(needed)


class NotPermitted(Exception):
    """The acting person's role may not do this; the message names the role needed."""

    def __init__(self, needed: StaffRole, doing: str, detail: str = "") -> None:
        self.needed = needed
        super().__init__(f"{doing} needs the {needed.value} role{detail}")


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.value} {self.currency}"


@dataclass(frozen=True)
class PlanApprovalRule:
    """Plans of a severity need the approval of ``by`` (or a higher role) within ``within``
    of counted ``calendar`` time; a breach escalates the case when ``escalate``."""

    by: StaffRole
    within: timedelta
    calendar: str = "always"
    escalate: bool = True


@dataclass(frozen=True)
class CompensationLimits:
    """The most a person of each role may grant on their own, in ``currency``. A role
    without an entry has the limit of the nearest role below it that has one (none below:
    nothing); ``None`` as a limit: no limit. No ``limits`` at all (a policy without the
    section): nobody is limited."""

    currency: str = "CNY"
    limits: dict[StaffRole, Decimal | None] | None = None

    def limit(self, role: StaffRole | str | None) -> Decimal | None:
        """The limit of ``role``; ``None``: unlimited. No role: 0."""
        if self.limits is None:
            return None
        position = rank(role)
        for candidate in reversed(ROLES[: position + 1]):
            if candidate in self.limits:
                return self.limits[candidate]
        return Decimal(0)

    def covers(self, role: StaffRole | str | None, amount: Decimal) -> bool:
        limit = self.limit(role)
        return limit is None or amount <= limit

    def lowest_role_covering(self, amount: Decimal) -> StaffRole | None:
        return next((r for r in ROLES if self.covers(r, amount)), None)


@dataclass(frozen=True)
class PauseReminder:
    """Remind the owner of a paused case every ``after`` of counted ``calendar`` time."""

    after: timedelta
    calendar: str = "always"


@dataclass(frozen=True)
class Authority:
    """The policy's approvals section."""

    plan_approval: dict[str, PlanApprovalRule] = field(default_factory=dict)  # by severity
    compensation: CompensationLimits = field(default_factory=CompensationLimits)
    refuse_service_by: StaffRole = StaffRole.SUPERVISOR
    pause_reminder: PauseReminder | None = None


# ---- pending decisions, held by the case --------------------------------------------------------


@dataclass(frozen=True)
class PendingPlan:
    plan: str
    by: str
    by_name: str | None
    at: datetime
    approver_role: StaffRole

    def to_json(self) -> dict:
        return {"plan": self.plan, "by": self.by, "by_name": self.by_name,
                "at": self.at.isoformat(), "approver_role": self.approver_role.value}  # fmt: skip

    @classmethod
    def from_json(cls, raw: dict) -> PendingPlan:
        return cls(raw["plan"], raw["by"], raw.get("by_name"), datetime.fromisoformat(raw["at"]),
                   StaffRole(raw["approver_role"]))  # fmt: skip


@dataclass(frozen=True)
class CompensationRequest:
    resolution: str
    description: str | None
    amount: Amount
    by: str
    by_name: str | None
    at: datetime
    approver_role: StaffRole
    resolution_kind: str | None = None  # repair, exchange, refund... (OutcomeKind)

    def to_json(self) -> dict:
        return {
            "resolution": self.resolution,
            "resolution_kind": self.resolution_kind,
            "description": self.description,
            "amount": str(self.amount.value),
            "currency": self.amount.currency,
            "by": self.by,
            "by_name": self.by_name,
            "at": self.at.isoformat(),
            "approver_role": self.approver_role.value,
        }

    @classmethod
    def from_json(cls, raw: dict) -> CompensationRequest:
        return cls(
            resolution=raw["resolution"],
            description=raw.get("description"),
            amount=Amount(Decimal(raw["amount"]), raw["currency"]),
            by=raw["by"],
            by_name=raw.get("by_name"),
            at=datetime.fromisoformat(raw["at"]),
            approver_role=StaffRole(raw["approver_role"]),
            resolution_kind=raw.get("resolution_kind"),
        )


@dataclass(frozen=True)
class AbuseFlag:
    at: datetime
    by: str
    by_name: str | None
    note: str

    def to_json(self) -> dict:
        return {"at": self.at.isoformat(), "by": self.by, "by_name": self.by_name,
                "note": self.note}  # fmt: skip

    @classmethod
    def from_json(cls, raw: dict) -> AbuseFlag:
        return cls(datetime.fromisoformat(raw["at"]), raw["by"], raw.get("by_name"), raw["note"])


@dataclass(frozen=True)
class Refusal:
    """Service refused to the customer: by whom, when, why."""

    at: datetime
    by: str
    by_name: str | None
    reason: str

    def to_json(self) -> dict:
        return {"at": self.at.isoformat(), "by": self.by, "by_name": self.by_name,
                "reason": self.reason}  # fmt: skip

    @classmethod
    def from_json(cls, raw: dict) -> Refusal:
        return cls(datetime.fromisoformat(raw["at"]), raw["by"], raw.get("by_name"),
                   raw["reason"])  # fmt: skip
