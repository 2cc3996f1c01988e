"""Request and response bodies of the ops API. Requests forbid unknown fields, so a typo is a
422 naming the field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.escalation.domain.authority import Amount
from services.escalation.domain.case import APPROVAL_CLOCK, Case
from shared.events.handling import CaseOutcome
from shared.events.intake import OutcomeKind

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Empty(_Body):
    pass


class Findings(_Body):
    findings: Text


class Plan(_Body):
    plan: Text


class MoneyIn(_Body):
    """An amount of money: a decimal with at most 2 places (text or number), and its ISO 4217
    currency, the one the policy's compensation limits are in."""

    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=2, allow_inf_nan=False)
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["CNY"])

    def to_amount(self) -> Amount:
        return Amount(self.amount, self.currency)


class Resolution(_Body):
    resolution: Text
    compensation: Short | None = Field(
        default=None, description="What the customer gets for the inconvenience, in words"
    )
    compensation_amount: MoneyIn | None = Field(
        default=None,
        description="Its value: above the acting person's limit the resolution is refused "
        "(403 naming the limit) and goes through request-compensation instead",
    )
    # The kind of outcome given (repair, exchange, refund, ...): compared with the outcome the
    # customer expected in the satisfaction reports.
    resolution_kind: OutcomeKind | None = None


class CompensationIn(_Body):
    """A resolution whose compensation is above the requester's limit, for approval."""

    resolution: Text
    compensation: Short | None = None
    compensation_amount: MoneyIn
    # The kind of outcome given (repair, exchange, refund, ...): compared with the outcome the
    # customer expected in the satisfaction reports.
    resolution_kind: OutcomeKind | None = None


class Note(_Body):
    note: Text


class Reason(_Body):
    reason: Short


PersonOrTeamId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")]


class HandoverIn(_Body):
    """To a colleague (``to_person``) or back to a team's queue (``to_team``), with why."""

    to_person: PersonOrTeamId | None = None
    to_team: PersonOrTeamId | None = None
    reason: Short

    @model_validator(mode="after")
    def _one_target(self) -> HandoverIn:
        if (self.to_person is None) == (self.to_team is None):
            raise ValueError("give to_person or to_team, one of them")
        return self


class ForwardIn(_Body):
    """Forward to the responsible department, explaining why, and say when the customer will
    have the answer."""

    to_team: PersonOrTeamId = Field(description="A department of the staff directory")
    reason: Short
    answer_by: AwareDatetime | None = Field(
        default=None, description="When the customer will get the answer (with a time zone)"
    )


class Suspension(_Body):
    outcome: Literal[CaseOutcome.MOVED_TO_COURT, CaseOutcome.OUTSIDE_BODY]
    note: Short | None = None


class Ending(_Body):
    outcome: Literal[
        CaseOutcome.MOVED_TO_COURT, CaseOutcome.OUTSIDE_BODY, CaseOutcome.ENDED_BY_AGREEMENT
    ]
    note: Short | None = None


class ClockView(BaseModel):
    name: str
    state: Literal["running", "met", "breached", "paused", "stopped"]
    calendar: str
    met_by: str
    started_at: datetime
    deadline: datetime
    met_at: datetime | None
    breached_at: datetime | None
    warned_at_fractions: list[float]


class TimelineEntry(BaseModel):
    at: datetime
    type: str
    by: str | None
    data: dict[str, Any]


class PendingPlanView(BaseModel):
    plan: str
    by: str
    by_name: str | None
    submitted_at: datetime
    approver_role: str
    approve_by: datetime | None  # the approval clock's deadline


class CompensationRequestView(BaseModel):
    resolution: str
    compensation: str | None
    amount: Decimal
    currency: str
    by: str
    by_name: str | None
    requested_at: datetime
    approver_role: str


class AbuseFlagView(BaseModel):
    at: datetime
    by: str
    by_name: str | None
    note: str


class RefusalView(BaseModel):
    at: datetime
    by: str
    by_name: str | None
    reason: str


class CaseView(BaseModel):
    complaint_id: uuid.UUID
    status: str
    level: str
    highest_level: str
    mode: str
    severity: str
    tier: str
    channel: str
    category: str
    customer: dict[str, Any]
    policy_version: str
    round: int
    received_at: datetime
    opened_at: datetime | None
    clocks: list[ClockView]
    ladder_due: datetime | None
    next_deadline: datetime | None
    overdue: bool
    breached: bool
    paused_at: datetime | None
    paused_seconds: float  # all pauses, the current one up to now included
    outcome: str | None
    site: str | None = None
    team: str | None = None
    assignee: str | None = None
    assignee_name: str | None = None
    # Authority: what waits for approval, time spent waiting, abuse and refusal of service.
    awaiting_approval: bool = False
    pending_plan: PendingPlanView | None = None
    approval_wait_seconds: float = 0.0  # plans waiting for approval, the current one included
    compensation_request: CompensationRequestView | None = None
    abuse_flags: list[AbuseFlagView] = []
    service_refusal: RefusalView | None = None
    pause_reminders: int = 0
    timeline: list[TimelineEntry] | None = None

    @classmethod
    def of(cls, case: Case, timeline: list[dict[str, Any]] | None = None) -> CaseView:
        now = datetime.now(UTC)
        paused = case.paused_seconds
        if case.paused_at is not None:
            paused += max(0.0, (now - case.paused_at).total_seconds())
        next_deadline = case.next_deadline()
        return cls(
            complaint_id=case.complaint_id,
            status=case.status,
            level=case.level,
            highest_level=case.highest_level,
            mode=case.mode,
            severity=case.severity,
            tier=case.tier,
            channel=case.channel,
            category=case.category,
            customer=case.customer.model_dump(mode="json"),
            policy_version=case.policy_version,
            round=case.round,
            received_at=case.received_at,
            opened_at=case.opened_at,
            clocks=[
                ClockView(
                    name=c.name,
                    state=_clock_state(case, c.met_at, c.breached_at),
                    calendar=c.calendar,
                    met_by=c.met_by,
                    started_at=c.started_at,
                    deadline=c.deadline,
                    met_at=c.met_at,
                    breached_at=c.breached_at,
                    warned_at_fractions=c.warned,
                )
                for c in case.clocks.values()
            ],
            ladder_due=case.climb_due,
            next_deadline=next_deadline,
            overdue=next_deadline is not None and next_deadline < now,
            breached=case.breached(),
            paused_at=case.paused_at,
            paused_seconds=paused,
            outcome=case.outcome,
            site=case.site,
            team=case.team,
            assignee=case.assignee,
            assignee_name=case.assignee_name,
            **_authority(case, now),
            timeline=[TimelineEntry(**t) for t in timeline] if timeline is not None else None,
        )


def _authority(case: Case, now: datetime) -> dict[str, Any]:
    plan, request, waiting = case.pending_plan, case.compensation_request, 0.0
    pending = None
    if plan is not None:
        clock = case.clocks.get(APPROVAL_CLOCK)
        waiting = max(0.0, (now - plan.at).total_seconds())
        pending = PendingPlanView(
            plan=plan.plan,
            by=plan.by,
            by_name=plan.by_name,
            submitted_at=plan.at,
            approver_role=plan.approver_role.value,
            approve_by=clock.deadline if clock is not None and clock.running else None,
        )
    refusal = case.refusal
    return {
        "awaiting_approval": plan is not None or request is not None,
        "pending_plan": pending,
        "approval_wait_seconds": case.approval_wait_seconds + waiting,
        "compensation_request": CompensationRequestView(
            resolution=request.resolution,
            compensation=request.description,
            amount=request.amount.value,
            currency=request.amount.currency,
            by=request.by,
            by_name=request.by_name,
            requested_at=request.at,
            approver_role=request.approver_role.value,
        )
        if request is not None
        else None,
        "abuse_flags": [
            AbuseFlagView(at=f.at, by=f.by, by_name=f.by_name, note=f.note)
            for f in case.abuse_flags
        ],
        "service_refusal": RefusalView(
            at=refusal.at, by=refusal.by, by_name=refusal.by_name, reason=refusal.reason
        )
        if refusal is not None
        else None,
        "pause_reminders": case.pause_reminders,
    }


def _clock_state(case: Case, met_at: datetime | None, breached_at: datetime | None) -> str:
    if met_at is not None:
        return "met"
    if breached_at is not None:
        return "breached"
    if case.status in ("paused", "service_refused"):
        return "paused"
    return "running" if case.next_deadline() is not None else "stopped"


class CasePage(BaseModel):
    items: list[CaseView]
    next_cursor: str | None


class Rate(BaseModel):
    key: str
    total: int
    on_time: int
    rate: float | None  # on_time / total; None when nothing was decided


class SlaStats(BaseModel):
    start: datetime
    end: datetime
    overall: Rate
    per_clock: list[Rate]
    per_level: list[Rate]


class PersonBrief(BaseModel):
    id: str
    name: str
    roles: list[str]


class TeamView(BaseModel):
    id: str
    name: str
    rung: str
    sites: list[str]
    categories: list[str]
    channels: list[str]
    severities: list[str]
    department: bool
    email: str | None
    members: list[PersonBrief]


class PersonView(BaseModel):
    id: str
    name: str
    email: str | None
    roles: list[str]
    language: str
    active: bool
    teams: list[str]
