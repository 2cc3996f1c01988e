"""A complaint's case: its state machine, clocks and place on the ladder, who may decide what
on it (plan approval, compensation limits, refusing service), pure.

Every change is a method that checks the case's state (``Forbidden`` with the reason when the
state does not allow it), updates the case and returns the events it causes. Time-driven
changes (warnings, breaches, the on-site ladder) happen in ``tick(now)``, which applies every
step due by ``now`` in order, whatever woke the case: so the scheduler needs ONE timer per
case, at ``next_wakeup()`` (the earliest of the pending steps, ``wakeups()``). A step is
recorded in the case when taken, so a wake-up that comes twice (or late) takes it once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from services.escalation.domain.assignment import Actor, Handover, Router
from services.escalation.domain.authority import (
    AbuseFlag,
    Amount,
    CompensationRequest,
    NotPermitted,
    PendingPlan,
    Refusal,
    at_least,
)
from services.escalation.domain.policy import Policy
from shared.directory import StaffRole
from shared.events.common import Channel, ContactCard, EventData, Mode, Severity, Tier
from shared.events.handling import (
    AssignmentReason,
    CaseAbuseFlagged,
    CaseAcknowledged,
    CaseAssigned,
    CaseClosed,
    CaseCompensationApproved,
    CaseCompensationRejected,
    CaseCompensationRequested,
    CaseEscalated,
    CaseForwarded,
    CaseInvestigated,
    CaseOpened,
    CaseOutcome,
    CasePaused,
    CasePauseOverdue,
    CasePlanApproved,
    CasePlanRecorded,
    CasePlanRejected,
    CasePlanSubmitted,
    CaseReopened,
    CaseResolved,
    CaseResumed,
    CaseServiceRefusalLifted,
    CaseServiceRefused,
    CaseSlaBreached,
    CaseSlaWarning,
    CaseSuspended,
    EscalationReason,
    Money,
)
from shared.events.intake import OutcomeKind

# The clock a plan awaiting approval runs on (its rule is the policy's plan approval).
APPROVAL_CLOCK = "approval"


class Status(StrEnum):
    AWAITING_INFORMATION = "awaiting_information"  # contact data missing: no clocks yet
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    PLAN_AWAITING_APPROVAL = "plan_awaiting_approval"  # not told to the customer yet
    PLAN_RECORDED = "plan_recorded"
    PAUSED = "paused"
    SERVICE_REFUSED = "service_refused"  # the customer abused staff: clocks stand still
    RESOLVED = "resolved"
    REOPENED = "reopened"
    SUSPENDED = "suspended"
    CLOSED = "closed"


# Statuses in which the case is being worked and its clocks run.
ACTIVE = frozenset(
    {
        Status.OPEN,
        Status.ACKNOWLEDGED,
        Status.INVESTIGATING,
        Status.PLAN_AWAITING_APPROVAL,
        Status.PLAN_RECORDED,
        Status.REOPENED,
    }
)
# Statuses a resolution (or a compensation request) may come from.
RESOLVABLE = (Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.PLAN_RECORDED)
# Statuses in which people may take, hand over or forward the case.
HANDLED = ACTIVE | {Status.PAUSED}
# Outcomes an operator may end a case with (moved elsewhere, or ended by agreement).
END_OUTCOMES = frozenset(
    {CaseOutcome.MOVED_TO_COURT, CaseOutcome.OUTSIDE_BODY, CaseOutcome.ENDED_BY_AGREEMENT}
)


class Forbidden(Exception):
    """The case's state does not allow the action; the message says why."""


class OverLimit(NotPermitted):
    """A compensation above the acting person's limit: it needs someone whose limit covers
    it (``needed`` or above), through a compensation request."""

    def __init__(self, needed: StaffRole, amount: Amount, limit: Amount) -> None:
        super().__init__(
            needed,
            f"a compensation of {amount}",
            f" (compensation_amount is above your limit of {limit}):"
            " ask for approval with POST /cases/{id}/request-compensation",
        )
        self.amount, self.limit = amount, limit


@dataclass
class Clock:
    name: str
    calendar: str
    met_by: str
    escalate: bool
    started_at: datetime
    deadline: datetime
    warnings: dict[float, datetime]  # fraction of the target -> when to warn
    warned: list[float] = field(default_factory=list)
    met_at: datetime | None = None
    breached_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.met_at is None and self.breached_at is None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "calendar": self.calendar,
            "met_by": self.met_by,
            "escalate": self.escalate,
            "started_at": self.started_at.isoformat(),
            "deadline": self.deadline.isoformat(),
            "warnings": {str(f): at.isoformat() for f, at in self.warnings.items()},
            "warned": self.warned,
            "met_at": self.met_at.isoformat() if self.met_at else None,
            "breached_at": self.breached_at.isoformat() if self.breached_at else None,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Clock:
        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            name=raw["name"],
            calendar=raw["calendar"],
            met_by=raw["met_by"],
            escalate=raw["escalate"],
            started_at=datetime.fromisoformat(raw["started_at"]),
            deadline=datetime.fromisoformat(raw["deadline"]),
            warnings={float(f): datetime.fromisoformat(at) for f, at in raw["warnings"].items()},
            warned=[float(f) for f in raw["warned"]],
            met_at=when(raw["met_at"]),
            breached_at=when(raw["breached_at"]),
        )


@dataclass(frozen=True)
class Outcome:
    """A clock decided, for the timely-handling statistics. ``clock`` "ladder" is a level's
    time on the on-site ladder: met when the case was settled there, missed when it went up."""

    round: int
    clock: str
    level: str
    deadline: datetime
    on_time: bool
    decided_at: datetime


@dataclass(frozen=True)
class Wakeup:
    kind: str  # case.warn, case.breach, case.climb
    due_at: datetime
    payload: dict[str, Any]


@dataclass
class Case:
    complaint_id: uuid.UUID
    mode: Mode
    severity: Severity
    tier: Tier
    channel: Channel
    category: str
    customer: ContactCard
    policy_version: str
    received_at: datetime
    status: Status
    level: str
    highest_level: str
    round: int = 1
    opened_at: datetime | None = None
    clocks: dict[str, Clock] = field(default_factory=dict)
    climb_due: datetime | None = None
    paused_at: datetime | None = None
    status_before_pause: Status | None = None
    paused_seconds: float = 0.0
    outcome: CaseOutcome | None = None
    # Who owns it: the team serving its rung (staff directory) and the person who took it.
    site: str | None = None
    team: str | None = None
    assignee: str | None = None
    assignee_name: str | None = None
    # Decisions waiting for someone with the authority, and the abuse record.
    pending_plan: PendingPlan | None = None
    approval_wait_seconds: float = 0.0  # plans waiting for approval, all rounds
    compensation_request: CompensationRequest | None = None
    abuse_flags: list[AbuseFlag] = field(default_factory=list)
    refusal: Refusal | None = None
    status_before_refusal: Status | None = None  # PAUSED, or None (the clocks were running)
    pause_remind_at: datetime | None = None
    pause_reminders: int = 0
    # Filled by the methods, drained by the caller: the statistics' raw material.
    outcomes: list[Outcome] = field(default_factory=list)

    # ---- opening ---------------------------------------------------------------------------

    @classmethod
    def receive(
        cls,
        policy: Policy,
        complaint_id: uuid.UUID,
        *,
        mode: Mode,
        severity: Severity,
        channel: Channel,
        category: str,
        customer: ContactCard,
        received_at: datetime,
        information_complete: bool,
        site: str | None = None,
    ) -> tuple[Case, list[EventData]]:
        """A case for a received complaint; its clocks start now unless contact data is
        missing, in which case ``start`` runs when the complaint is completed."""
        case = cls(
            complaint_id=complaint_id,
            mode=mode,
            severity=severity,
            tier=customer.tier,
            channel=channel,
            category=category,
            customer=customer,
            policy_version=policy.version,
            received_at=received_at,
            status=Status.AWAITING_INFORMATION,
            level=policy.levels[0],
            highest_level=policy.levels[0],
            site=site,
        )
        if not information_complete:
            return case, []
        return case, case.start(policy, received_at)

    def start(self, policy: Policy, at: datetime) -> list[EventData]:
        if self.status != Status.AWAITING_INFORMATION:
            raise Forbidden(f"the case is already {self.status}")
        self.status = Status.OPEN
        self.opened_at = at
        receiver = self.level
        start = policy.start_level(self.mode, self.severity)
        self.level = self.highest_level = start
        self._start_round(policy, at)
        events: list[EventData] = [
            CaseOpened(
                complaint_id=self.complaint_id,
                opened_at=at,
                level=receiver,
                severity=self.severity,
                tier=self.tier,
                mode=self.mode,
                channel=self.channel,
                category=self.category,
                policy_version=self.policy_version,
                round=self.round,
                deadlines=self.deadlines(),
                site=self.site,
            )
        ]
        if start != receiver:  # major complaints go straight to senior levels
            events.append(
                CaseEscalated(
                    complaint_id=self.complaint_id,
                    at=at,
                    from_level=receiver,
                    to_level=start,
                    reason=EscalationReason.SEVERITY,
                )
            )
        return events

    def _start_round(self, policy: Policy, at: datetime) -> None:
        self.clocks = {}
        for rule, target, warnings in policy.clock_targets(self.mode, self.tier, self.severity):
            calendar = policy.calendar(rule.calendar)
            self.clocks[rule.name] = Clock(
                name=rule.name,
                calendar=rule.calendar,
                met_by=rule.met_by,
                escalate=rule.escalate,
                started_at=at,
                deadline=calendar.add(at, target),
                warnings={f: calendar.add(at, offset) for f, offset in warnings},
            )
        self._arm_climb(policy, at)

    def _arm_climb(self, policy: Policy, since: datetime) -> None:
        climb = policy.climb_time(self.mode, self.level, self.tier, self.severity)
        self.climb_due = None if climb is None or self._settled(policy) else since + climb

    def _settled(self, policy: Policy) -> bool:
        """The action that stops the on-site ladder was taken in this round."""
        until = policy.modes[self.mode].climb_until
        clock = next((c for c in self.clocks.values() if c.met_by == until), None)
        return until is not None and clock is not None and clock.met_at is not None

    # ---- what the API does ------------------------------------------------------------------

    def acknowledge(self, policy: Policy, by: str, now: datetime) -> list[EventData]:
        self._require(Status.OPEN, Status.REOPENED, doing="acknowledge")
        self.status = Status.ACKNOWLEDGED
        self._meet(policy, "acknowledge", now)
        return [CaseAcknowledged(complaint_id=self.complaint_id, at=now, by=by, level=self.level)]

    def investigate(self, policy: Policy, by: str, now: datetime, findings: str) -> list[EventData]:
        self._require(Status.ACKNOWLEDGED, Status.INVESTIGATING, doing="record findings")
        self.status = Status.INVESTIGATING
        self._meet(policy, "investigate", now)
        return [CaseInvestigated(complaint_id=self.complaint_id, at=now, by=by, findings=findings)]

    def record_plan(
        self, policy: Policy, by: str, now: datetime, plan: str, who: Actor | None = None
    ) -> list[EventData]:
        """The plan is told to the customer, unless the policy wants plans of this severity
        approved and ``who`` (the drafter) lacks the approving role: then it waits for
        approval on the approval clock."""
        self._require(Status.INVESTIGATING, Status.PLAN_RECORDED, doing="record a plan")
        rule = policy.authority.plan_approval.get(self.severity)
        if rule is None or at_least(who.role if who else None, rule.by):
            self.status = Status.PLAN_RECORDED
            self._meet(policy, "plan", now)
            approved_by = by if rule is not None else None  # the responsible manager drafted it
            return [CasePlanRecorded(complaint_id=self.complaint_id, at=now, by=by, plan=plan,
                                     approved_by=approved_by)]  # fmt: skip
        self.status = Status.PLAN_AWAITING_APPROVAL
        self.pending_plan = PendingPlan(plan, by, who.name if who else None, now, rule.by)
        cal = policy.calendar(rule.calendar)
        clock = Clock(
            name=APPROVAL_CLOCK,
            calendar=rule.calendar,
            met_by="approve",
            escalate=rule.escalate,
            started_at=now,
            deadline=cal.add(now, rule.within),
            warnings={f: cal.add(now, rule.within * f) for f in policy.warn_at},
        )
        self.clocks[APPROVAL_CLOCK] = clock
        return [
            CasePlanSubmitted(
                complaint_id=self.complaint_id,
                at=now,
                by=by,
                plan=plan,
                approver_role=rule.by.value,
                approve_by=clock.deadline,
                level=self.level,
            )
        ]

    def approve_plan(self, policy: Policy, who: Actor, now: datetime) -> list[EventData]:
        pending = self._pending_plan(who, doing="approving this plan")
        waited = self._decide_plan(policy, pending, now)
        self.status = Status.PLAN_RECORDED
        self._meet(policy, "plan", now)  # told to the customer now
        return [
            CasePlanApproved(
                complaint_id=self.complaint_id,
                at=now,
                by=who.id,
                submitted_by=pending.by,
                plan=pending.plan,
                waited_seconds=waited,
            ),
            CasePlanRecorded(
                complaint_id=self.complaint_id,
                at=now,
                by=pending.by,
                by_name=pending.by_name,
                plan=pending.plan,
                approved_by=who.id,
                approved_by_name=who.name,
            ),
        ]

    def reject_plan(
        self, policy: Policy, who: Actor, now: datetime, reason: str
    ) -> list[EventData]:
        """Rejected with the reason: the plan must be redrafted (back to investigating)."""
        pending = self._pending_plan(who, doing="rejecting this plan")
        waited = self._decide_plan(policy, pending, now)
        self.status = Status.INVESTIGATING
        return [
            CasePlanRejected(
                complaint_id=self.complaint_id,
                at=now,
                by=who.id,
                submitted_by=pending.by,
                reason=reason,
                waited_seconds=waited,
            )
        ]

    def _pending_plan(self, who: Actor, doing: str) -> PendingPlan:
        if self.status != Status.PLAN_AWAITING_APPROVAL or self.pending_plan is None:
            raise Forbidden(f"no plan awaits approval: the case is {self.status}")
        if not at_least(who.role, self.pending_plan.approver_role):
            raise NotPermitted(self.pending_plan.approver_role, doing)
        return self.pending_plan

    def _decide_plan(self, policy: Policy, pending: PendingPlan, now: datetime) -> float:
        waited = max(0.0, (now - pending.at).total_seconds())
        self.approval_wait_seconds += waited
        self.pending_plan = None
        self._meet(policy, "approve", now)
        return waited

    def resolve(
        self,
        policy: Policy,
        by: str,
        now: datetime,
        resolution: str,
        compensation: str | None,
        amount: Amount | None = None,
        who: Actor | None = None,
        resolution_kind: OutcomeKind | None = None,
    ) -> list[EventData]:
        """Resolved; a compensation ``amount`` above ``who``'s limit is refused
        (``OverLimit``): it goes through a compensation request instead."""
        self._require(*RESOLVABLE, doing="resolve")
        if amount is not None:
            limits = policy.authority.compensation
            self._check_currency(policy, amount)
            role = who.role if who else None
            if not limits.covers(role, amount.value):
                needed = limits.lowest_role_covering(amount.value)
                if needed is None:
                    raise Forbidden(f"no role may grant a compensation of {amount}")
                limit = Amount(limits.limit(role) or Decimal(0), limits.currency)
                raise OverLimit(needed, amount, limit)
        return self._resolve(policy, by, now, resolution, compensation, amount,
                             resolution_kind=resolution_kind)  # fmt: skip

    def _resolve(
        self,
        policy: Policy,
        by: str,
        now: datetime,
        resolution: str,
        compensation: str | None,
        amount: Amount | None,
        approved_by: Actor | None = None,
        resolution_kind: OutcomeKind | None = None,
    ) -> list[EventData]:
        self._meet(policy, "resolve", now)
        self.status = Status.RESOLVED
        self.compensation_request = None
        return [
            CaseResolved(
                complaint_id=self.complaint_id,
                at=now,
                by=by,
                round=self.round,
                resolution=resolution,
                compensation=compensation,
                severity=self.severity,
                channel=self.channel,
                category=self.category,
                customer=self.customer,
                tier=self.tier,
                level=self.level,
                highest_level=self.highest_level,
                clocks_met={n: c.breached_at is None for n, c in self.clocks.items()},
                site=self.site,
                team=self.team,
                resolution_kind=resolution_kind,
                compensation_amount=_money(amount),
                compensation_approved_by=approved_by.id if approved_by else None,
                compensation_approved_by_name=approved_by.name if approved_by else None,
                paused_seconds=self.paused_seconds,
                approval_wait_seconds=self.approval_wait_seconds,
            )
        ]

    # ---- compensation above one's limit --------------------------------------------------------

    def request_compensation(
        self,
        policy: Policy,
        who: Actor,
        now: datetime,
        resolution: str,
        description: str | None,
        amount: Amount,
        resolution_kind: OutcomeKind | None = None,
    ) -> list[EventData]:
        """Ask someone whose limit covers ``amount`` to approve the resolution with it."""
        self._require(*RESOLVABLE, doing="ask for a compensation's approval")
        if self.compensation_request is not None:
            raise Forbidden(
                f"a compensation of {self.compensation_request.amount} awaits approval already"
            )
        self._check_currency(policy, amount)
        limits = policy.authority.compensation
        if limits.covers(who.role, amount.value):
            raise Forbidden(f"{amount} is within your limit: resolve the case directly")
        needed = limits.lowest_role_covering(amount.value)
        if needed is None:
            raise Forbidden(f"no role may grant a compensation of {amount}")
        self.compensation_request = CompensationRequest(
            resolution, description, amount, who.id, who.name, now, needed, resolution_kind
        )
        own = limits.limit(who.role)
        return [
            CaseCompensationRequested(
                complaint_id=self.complaint_id,
                at=now,
                by=who.id,
                amount=_money(amount),
                compensation=description,
                resolution=resolution,
                approver_role=needed.value,
                limit=_money(Amount(own, limits.currency)) if own is not None else None,
            )
        ]

    def approve_compensation(self, policy: Policy, who: Actor, now: datetime) -> list[EventData]:
        """The approver's limit covers it: the resolution goes through, naming them."""
        request = self._pending_compensation(policy, who, doing="approving")
        self._require(*RESOLVABLE, doing="resolve")
        approved = CaseCompensationApproved(
            complaint_id=self.complaint_id,
            at=now,
            by=who.id,
            requested_by=request.by,
            amount=_money(request.amount),
        )
        kind = OutcomeKind(request.resolution_kind) if request.resolution_kind else None
        resolved = self._resolve(policy, request.by, now, request.resolution,
                                 request.description, request.amount, approved_by=who,
                                 resolution_kind=kind)  # fmt: skip
        resolved[0].by_name = request.by_name  # type: ignore[attr-defined]
        return [approved, *resolved]

    def reject_compensation(
        self, policy: Policy, who: Actor, now: datetime, reason: str
    ) -> list[EventData]:
        request = self._pending_compensation(policy, who, doing="rejecting")
        self.compensation_request = None
        return [
            CaseCompensationRejected(
                complaint_id=self.complaint_id,
                at=now,
                by=who.id,
                requested_by=request.by,
                amount=_money(request.amount),
                reason=reason,
            )
        ]

    def _pending_compensation(self, policy: Policy, who: Actor, doing: str) -> CompensationRequest:
        request = self.compensation_request
        if request is None:
            raise Forbidden("no compensation awaits approval on this case")
        if not policy.authority.compensation.covers(who.role, request.amount.value):
            raise NotPermitted(request.approver_role, f"{doing} a compensation of {request.amount}")
        return request

    @staticmethod
    def _check_currency(policy: Policy, amount: Amount) -> None:
        currency = policy.authority.compensation.currency
        if amount.currency != currency:
            raise Forbidden(f"compensation limits are in {currency}, not {amount.currency}")

    # ---- abusive customers (DOMAIN.md, "People") -------------------------------------------------

    def flag_abuse(self, who: Actor, now: datetime, note: str) -> list[EventData]:
        """Anyone on the staff may report abuse, in any state: it is a record."""
        self.abuse_flags.append(AbuseFlag(now, who.id, who.name, note))
        return [
            CaseAbuseFlagged(
                complaint_id=self.complaint_id, at=now, by=who.id, note=note,
                customer_id=self.customer.id,
            )
        ]  # fmt: skip

    def refuse_service(
        self, policy: Policy, who: Actor, now: datetime, reason: str
    ) -> list[EventData]:
        """Refuse the customer further service under the policy: only after abuse was
        flagged, only by the policy's role; the clocks stand still until it is lifted."""
        needed = policy.authority.refuse_service_by
        if not at_least(who.role, needed):
            raise NotPermitted(needed, "refusing service")
        if self.status not in ACTIVE | {Status.PAUSED}:
            raise Forbidden(f"a case that is {self.status} cannot have service refused")
        if not self.abuse_flags:
            raise Forbidden("no abuse is flagged on this case: flag it first, with what happened")
        if self.status == Status.PAUSED:
            self.status_before_refusal = Status.PAUSED
        else:
            self.status_before_refusal = None
            self.status_before_pause, self.paused_at = self.status, now
        self.status, self.pause_remind_at = Status.SERVICE_REFUSED, None
        self.refusal = Refusal(now, who.id, who.name, reason)
        return [
            CaseServiceRefused(
                complaint_id=self.complaint_id, at=now, by=who.id, reason=reason,
                customer_id=self.customer.id, flags=len(self.abuse_flags),
            )
        ]  # fmt: skip

    def lift_refusal(
        self, policy: Policy, who: Actor, now: datetime, reason: str
    ) -> list[EventData]:
        needed = policy.authority.refuse_service_by
        if not at_least(who.role, needed):
            raise NotPermitted(needed, "lifting a refusal of service")
        if self.status != Status.SERVICE_REFUSED:
            raise Forbidden(f"service is not refused on this case (it is {self.status})")
        self.refusal = None
        if self.status_before_refusal == Status.PAUSED:
            self.status, self.status_before_refusal = Status.PAUSED, None
            self._arm_pause_reminder(policy, now)
        else:
            self._restart_clocks(policy, now)
        return [
            CaseServiceRefusalLifted(
                complaint_id=self.complaint_id, at=now, by=who.id, reason=reason,
                customer_id=self.customer.id, deadlines=self.deadlines(),
            )
        ]  # fmt: skip

    def escalate(self, policy: Policy, by: str, now: datetime, reason: str) -> list[EventData]:
        if self.status not in ACTIVE:
            raise Forbidden(f"a case that is {self.status} cannot be escalated")
        to = policy.next_level(self.level, self.severity, by_hand=True)
        if to is None:
            raise Forbidden(f"the case is already at the top of the ladder ({self.level})")
        return [self._go_up(policy, to, now, EscalationReason.MANUAL, by=by, note=reason)]

    def pause(self, policy: Policy, by: str, now: datetime, reason: str) -> list[EventData]:
        if self.status not in ACTIVE:
            raise Forbidden(f"a case that is {self.status} cannot be paused")
        self.status_before_pause, self.status, self.paused_at = self.status, Status.PAUSED, now
        self.pause_reminders = 0
        self._arm_pause_reminder(policy, now)
        return [CasePaused(complaint_id=self.complaint_id, at=now, by=by, reason=reason)]

    def _arm_pause_reminder(self, policy: Policy, since: datetime) -> None:
        rule = policy.authority.pause_reminder
        self.pause_remind_at = (
            policy.calendar(rule.calendar).add(since, rule.after) if rule is not None else None
        )

    def resume(self, policy: Policy, by: str, now: datetime) -> list[EventData]:
        if self.status != Status.PAUSED or self.paused_at is None:
            raise Forbidden(f"the case is {self.status}, not paused")
        paused = self._restart_clocks(policy, now)
        return [
            CaseResumed(
                complaint_id=self.complaint_id,
                at=now,
                by=by,
                paused_seconds=paused.total_seconds(),
                total_paused_seconds=self.paused_seconds,
                deadlines=self.deadlines(),
            )
        ]

    def _restart_clocks(self, policy: Policy, now: datetime) -> timedelta:
        """After a pause (or a refusal of service): each clock keeps the counted time it had
        left when it stopped; returns how long they stood still."""
        assert self.paused_at is not None
        paused_at, self.paused_at = self.paused_at, None
        self.status = self.status_before_pause or Status.OPEN
        self.status_before_pause = self.status_before_refusal = None
        self.pause_remind_at = None
        paused = max(timedelta(0), now - paused_at)
        self.paused_seconds += paused.total_seconds()
        for clock in self.clocks.values():
            if clock.running:
                cal = policy.calendar(clock.calendar)
                clock.deadline = shift(cal.between, cal.add, clock.deadline, paused_at, now)
                clock.warnings = {
                    f: shift(cal.between, cal.add, at, paused_at, now)
                    for f, at in clock.warnings.items()
                }
        if self.climb_due is not None:
            self.climb_due = max(self.climb_due, paused_at) + paused
        return paused

    def suspend(
        self, policy: Policy, by: str, now: datetime, outcome: CaseOutcome, note: str | None
    ) -> list[EventData]:
        """Moved to a court or an outside body: handling stops until it ends there."""
        if outcome not in (CaseOutcome.MOVED_TO_COURT, CaseOutcome.OUTSIDE_BODY):
            raise Forbidden("a case is suspended only when moved to court or an outside body")
        if self.status not in ACTIVE | {Status.PAUSED}:
            raise Forbidden(f"a case that is {self.status} cannot be suspended")
        self._stop_pause(now)
        self._drop_pending(now)
        self.status, self.climb_due = Status.SUSPENDED, None
        return [
            CaseSuspended(complaint_id=self.complaint_id, at=now, by=by, reason=outcome, note=note)
        ]

    def end(
        self, policy: Policy, by: str, now: datetime, outcome: CaseOutcome, note: str | None
    ) -> list[EventData]:
        if outcome not in END_OUTCOMES:
            raise Forbidden(f"a case is ended by hand only as one of {sorted(END_OUTCOMES)}")
        if self.status in (Status.CLOSED, Status.AWAITING_INFORMATION):
            raise Forbidden(f"a case that is {self.status} cannot be ended")
        return self._close(now, outcome, by, note)

    # ---- who owns it --------------------------------------------------------------------------

    def assign_along(self, router: Router, events: list[EventData]) -> list[EventData]:
        """``events`` with a ``case.assigned`` after each opening and each climb: the case
        goes to the team serving the rung it reached (the person who held it lets go)."""
        found: list[EventData] = []
        for event in events:
            found.append(event)
            if isinstance(event, CaseOpened):
                found.append(
                    self._route(router, event.level, event.opened_at, AssignmentReason.OPENED)
                )
            elif isinstance(event, CaseEscalated):
                found.append(
                    self._route(router, event.to_level, event.at, AssignmentReason.ESCALATED,
                                by=event.by, note=event.note)
                )  # fmt: skip
        return found

    def _route(
        self,
        router: Router,
        rung: str,
        at: datetime,
        reason: AssignmentReason,
        *,
        by: str | None = None,
        note: str | None = None,
    ) -> CaseAssigned:
        team = router.route(rung, self.site, self.category, self.channel, self.severity)
        if team is not None:
            self.team = team.id
        else:  # nobody serves that rung here: the case stays with its team, not with nobody
            note = f"no team serves {rung} for this case; it stays with {self.team or 'nobody'}"
        self.assignee = self.assignee_name = None
        return self._assigned(at, reason, note=note, by=by, rung=rung)

    def take(self, who: Actor, now: datetime) -> list[EventData]:
        """``who`` takes the case on. One someone else holds is theirs until they hand it
        over (a supervisor may take it anyway)."""
        self._require(*HANDLED, doing="take the case")
        if self.assignee == who.id:
            raise Forbidden("you hold this case already")
        if self.assignee is not None and not who.may_override:
            raise Forbidden(f"{self.assignee} holds this case; they can hand it over")
        self.assignee, self.assignee_name = who.id, who.name
        return [self._assigned(now, AssignmentReason.TAKEN, by=who)]

    def hand_over(self, to: Handover, who: Actor, now: datetime) -> list[EventData]:
        """To a colleague, or back to a team's queue, with the reason. Whoever holds the case
        may hand it over; a case nobody holds, anyone; a supervisor, always."""
        self._require(*HANDLED, doing="hand the case over")
        if self.assignee not in (None, who.id) and not who.may_override:
            raise Forbidden(f"{self.assignee} holds this case; only they can hand it over")
        if to.person is not None:
            if to.person == self.assignee:
                raise Forbidden(f"{to.person} holds this case already")
            self.assignee, self.assignee_name = to.person, to.person_name
        else:
            if to.team == self.team and self.assignee is None:
                raise Forbidden(f"the case is in {to.team}'s queue already")
            self.team, self.assignee, self.assignee_name = to.team, None, None
        return [self._assigned(now, AssignmentReason.HANDED_OVER, note=to.reason, by=who)]

    def forward(
        self, to_team: str, reason: str, answer_by: datetime | None, who: Actor, now: datetime
    ) -> list[EventData]:
        """The complaint belongs to another department (DOMAIN.md: record, explain, forward;
        tell the customer when the answer will come, ``answer_by``)."""
        self._require(*HANDLED, doing="forward the case")
        if to_team == self.team:
            raise Forbidden(f"the case is with {to_team} already")
        if answer_by is not None and answer_by <= now:
            raise Forbidden("the answer cannot be promised for a time already past")
        from_team = self.team
        self.team, self.assignee, self.assignee_name = to_team, None, None
        forwarded = CaseForwarded(
            complaint_id=self.complaint_id,
            at=now,
            from_team=from_team,
            to_team=to_team,
            reason=reason,
            answer_by=answer_by,
            by=who.id,
            by_name=who.name,
        )
        return [forwarded, self._assigned(now, AssignmentReason.FORWARDED, note=reason, by=who)]

    def _assigned(
        self,
        at: datetime,
        reason: AssignmentReason,
        *,
        note: str | None = None,
        by: Actor | str | None = None,
        rung: str | None = None,
    ) -> CaseAssigned:
        actor = Actor(by) if isinstance(by, str) else by
        return CaseAssigned(
            complaint_id=self.complaint_id,
            at=at,
            team=self.team,
            assignee=self.assignee,
            assignee_name=self.assignee_name,
            rung=rung or self.level,
            reason=reason,
            note=note,
            by=actor.id if actor else None,
            by_name=actor.name if actor else None,
        )

    # ---- what the follow-up service tells -----------------------------------------------------

    def reopen(self, policy: Policy, now: datetime, reason: str) -> list[EventData]:
        """The customer is still unhappy after the call-back: a new round of clocks."""
        resolved = self.outcome in (None, CaseOutcome.RESOLVED)
        if self.status not in (Status.RESOLVED, Status.CLOSED) or not resolved:
            raise Forbidden(f"a case that is {self.status} cannot be reopened")
        self.round += 1
        self.status, self.outcome = Status.REOPENED, None
        self._start_round(policy, now)
        return [
            CaseReopened(
                complaint_id=self.complaint_id,
                at=now,
                round=self.round,
                reason=reason,
                deadlines=self.deadlines(),
            )
        ]

    def confirm_resolved(self, now: datetime, by: str, note: str | None) -> list[EventData]:
        """The call-back found the customer satisfied (or could not reach them)."""
        if self.status != Status.RESOLVED:
            raise Forbidden(f"the case is {self.status}, not resolved")
        return self._close(now, CaseOutcome.RESOLVED, by, note)

    def _close(
        self, now: datetime, outcome: CaseOutcome, by: str | None, note: str | None
    ) -> list[EventData]:
        self._stop_pause(now)
        self._drop_pending(now)
        self.status, self.outcome, self.climb_due = Status.CLOSED, outcome, None
        return [
            CaseClosed(complaint_id=self.complaint_id, at=now, outcome=outcome, by=by, note=note,
                       paused_seconds=self.paused_seconds)
        ]  # fmt: skip

    def _drop_pending(self, now: datetime) -> None:
        """Handling stops: nothing waits for approval any more (the wait so far counts)."""
        if self.pending_plan is not None:
            self.approval_wait_seconds += max(0.0, (now - self.pending_plan.at).total_seconds())
        self.pending_plan = self.compensation_request = None

    def _stop_pause(self, now: datetime) -> None:
        """The case leaves a pause (or a refusal) for good: the time counts as paused."""
        if self.paused_at is not None:
            self.paused_seconds += max(0.0, (now - self.paused_at).total_seconds())
        self.paused_at = self.status_before_pause = self.status_before_refusal = None
        self.pause_remind_at = None

    # ---- time ---------------------------------------------------------------------------------

    def wakeups(self) -> list[Wakeup]:
        """The pending time-driven steps, each with when it falls due."""
        if self.status == Status.PAUSED and self.pause_remind_at is not None:
            reminder = {"round": self.round, "reminder": self.pause_reminders + 1}
            return [Wakeup("case.pause_reminder", self.pause_remind_at, reminder)]
        if self.status not in ACTIVE:
            return []
        found = []
        for clock in self.clocks.values():
            if not clock.running:
                continue
            for fraction, at in clock.warnings.items():
                if fraction not in clock.warned:
                    found.append(Wakeup("case.warn", at, {"clock": clock.name, "round": self.round,
                                                          "fraction": fraction}))  # fmt: skip
            found.append(Wakeup("case.breach", clock.deadline,
                                {"clock": clock.name, "round": self.round}))  # fmt: skip
        if self.climb_due is not None:
            found.append(Wakeup("case.climb", self.climb_due,
                                {"level": self.level, "round": self.round}))  # fmt: skip
        return found

    def next_wakeup(self) -> datetime | None:
        """When the case must be woken next: its earliest pending step (None: nothing
        pending). The case's one timer; ``tick`` then takes whatever is due. The same as the
        earliest of ``wakeups()``, without building them (it runs on every save)."""
        if self.status == Status.PAUSED:
            return self.pause_remind_at
        if self.status not in ACTIVE:
            return None
        first = self.climb_due
        for clock in self.clocks.values():
            if clock.met_at is not None or clock.breached_at is not None:
                continue
            if first is None or clock.deadline < first:
                first = clock.deadline
            for fraction, at in clock.warnings.items():
                if at < first and fraction not in clock.warned:
                    first = at
        return first

    def tick(self, policy: Policy, now: datetime) -> list[EventData]:
        """Take every time-driven step due by ``now``, oldest first."""
        events: list[EventData] = []
        while True:
            first = self.next_wakeup()  # nothing due (most saves): no step list built
            if first is None or first > now:
                return events
            due = [w for w in self.wakeups() if w.due_at <= now]
            step = min(due, key=lambda w: (w.due_at, w.kind != "case.warn"))
            events += self._take(policy, step)

    def _take(self, policy: Policy, step: Wakeup) -> list[EventData]:
        if step.kind == "case.pause_reminder":
            return [self._remind_pause(policy, step.due_at)]
        if step.kind == "case.climb":
            to = policy.next_level(self.level, self.severity)
            if to is None:
                self.climb_due = None
                return []
            self.outcomes.append(
                Outcome(self.round, "ladder", self.level, step.due_at, False, step.due_at)
            )
            # The next level's time counts from when this one's ran out, not from when the
            # wake-up came, so a late wake-up does not stretch the ladder.
            return [self._go_up(policy, to, step.due_at, EscalationReason.DEADLINE)]
        clock = self.clocks[step.payload["clock"]]
        if step.kind == "case.warn":
            clock.warned.append(step.payload["fraction"])
            return [
                CaseSlaWarning(
                    complaint_id=self.complaint_id,
                    at=step.due_at,
                    clock=clock.name,
                    deadline=clock.deadline,
                    fraction=step.payload["fraction"],
                    level=self.level,
                )
            ]
        clock.breached_at = step.due_at
        self.outcomes.append(
            Outcome(self.round, clock.name, self.level, clock.deadline, False, step.due_at)
        )
        events: list[EventData] = [
            CaseSlaBreached(
                complaint_id=self.complaint_id,
                at=step.due_at,
                clock=clock.name,
                deadline=clock.deadline,
                level=self.level,
            )
        ]
        to = policy.next_level(self.level, self.severity) if clock.escalate else None
        if to is not None:
            events.append(
                self._go_up(policy, to, step.due_at, EscalationReason.DEADLINE, clock=clock.name)
            )
        return events

    def _remind_pause(self, policy: Policy, due: datetime) -> CasePauseOverdue:
        assert self.paused_at is not None
        self.pause_reminders += 1
        self._arm_pause_reminder(policy, due)  # the next one, as long again
        return CasePauseOverdue(
            complaint_id=self.complaint_id,
            at=due,
            paused_at=self.paused_at,
            reminder=self.pause_reminders,
            level=self.level,
            team=self.team,
            assignee=self.assignee,
        )

    # ---- helpers ------------------------------------------------------------------------------

    def _go_up(
        self,
        policy: Policy,
        to: str,
        at: datetime,
        reason: EscalationReason,
        *,
        clock: str | None = None,
        by: str | None = None,
        note: str | None = None,
    ) -> CaseEscalated:
        from_level, self.level = self.level, to
        if policy.rank(to) > policy.rank(self.highest_level):
            self.highest_level = to
        self._arm_climb(policy, at)
        return CaseEscalated(
            complaint_id=self.complaint_id,
            at=at,
            from_level=from_level,
            to_level=to,
            reason=reason,
            clock=clock,
            by=by,
            note=note,
        )

    def _meet(self, policy: Policy, action: str, now: datetime) -> None:
        settled_before = self._settled(policy)
        for clock in self.clocks.values():
            if clock.met_at is None and (clock.met_by == action or action == "resolve"):
                clock.met_at = now
                if clock.breached_at is None:
                    self.outcomes.append(
                        Outcome(self.round, clock.name, self.level, clock.deadline, True, now)
                    )
        settles = action == "resolve" or self._settled(policy)
        if settles and not settled_before and self.climb_due is not None:
            self.outcomes.append(Outcome(self.round, "ladder", self.level, self.climb_due,
                                         now <= self.climb_due, now))  # fmt: skip
            self.climb_due = None

    def _require(self, *allowed: Status, doing: str) -> None:
        if self.status not in allowed:
            raise Forbidden(
                f"cannot {doing}: the case is {self.status}"
                f" (allowed when {' or '.join(s.value for s in allowed)})"
            )

    def deadlines(self) -> dict[str, datetime]:
        # A breached clock whose step is still not done stays on the list: the case is overdue.
        found = {n: c.deadline for n, c in self.clocks.items() if c.met_at is None}
        if self.climb_due is not None:
            found["ladder"] = self.climb_due
        return found

    def next_deadline(self) -> datetime | None:
        """The earliest deadline still running (None while paused or not being worked)."""
        if self.status not in ACTIVE:
            return None
        return min(self.deadlines().values(), default=None)

    def breached(self) -> bool:
        return any(c.breached_at is not None for c in self.clocks.values())

    def copy(self) -> Case:
        return replace(
            self,
            clocks={n: replace(c, warned=list(c.warned), warnings=dict(c.warnings))
                    for n, c in self.clocks.items()},
            outcomes=list(self.outcomes),
            abuse_flags=list(self.abuse_flags),
        )  # fmt: skip


def _money(amount: Amount | None) -> Money | None:
    return Money(amount=amount.value, currency=amount.currency) if amount is not None else None


def shift(between, add, moment: datetime, paused_at: datetime, resumed_at: datetime) -> datetime:
    """``moment`` after a pause: the counted time it was ahead of the pause now counts from the
    resume. A moment that had already passed when the case was paused stays as it was."""
    if moment <= paused_at:
        return moment
    return add(resumed_at, between(paused_at, moment))
