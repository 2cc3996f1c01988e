"""Events the escalation service publishes on ``complaints.handling.v1`` (key: complaint id).

Levels name the rungs of the escalation ladder in the policy (``frontline``, ``team_lead``,
``supervisor``, ``customer_relations``, ``department_manager``, ``executive_office`` in the
bundled default). Clocks name the SLA clocks (``acknowledge``, ``investigate``, ``plan``,
the on-site ``respond``, and ``approval`` while a plan awaits approval); ``ladder`` in
``deadlines`` is when the current level's time on the on-site ladder runs out. Roles
(``approver_role``) are the staff directory's (agent ... admin)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from shared.events.common import Channel, ContactCard, EventData, Mode, Severity, Tier
from shared.events.intake import OutcomeKind


class Money(BaseModel):
    """An amount of money (a compensation): a decimal, written as text in JSON so no cent is
    lost, and its ISO 4217 currency."""

    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class CaseOpened(EventData):
    event_type = "case.opened"

    complaint_id: uuid.UUID
    opened_at: datetime
    level: str
    severity: Severity
    tier: Tier
    mode: Mode
    channel: Channel
    category: str
    policy_version: str
    round: int = 1
    deadlines: dict[str, datetime]
    site: str | None = None  # the store / site / project the complaint is about, if named


class CaseAcknowledged(EventData):
    event_type = "case.acknowledged"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None  # the person's display name, when known
    level: str


class CaseInvestigated(EventData):
    event_type = "case.investigated"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None  # the person's display name, when known
    findings: str


class EscalationReason(StrEnum):
    DEADLINE = "deadline"
    MANUAL = "manual"
    SEVERITY = "severity"


class CaseEscalated(EventData):
    event_type = "case.escalated"

    complaint_id: uuid.UUID
    at: datetime
    from_level: str | None
    to_level: str
    reason: EscalationReason
    clock: str | None = None
    by: str | None = None
    by_name: str | None = None
    note: str | None = None


class CaseSlaWarning(EventData):
    event_type = "case.sla_warning"

    complaint_id: uuid.UUID
    at: datetime
    clock: str
    deadline: datetime
    fraction: float
    level: str


class CaseSlaBreached(EventData):
    event_type = "case.sla_breached"

    complaint_id: uuid.UUID
    at: datetime
    clock: str
    deadline: datetime
    level: str


class CasePaused(EventData):
    event_type = "case.paused"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None  # the person's display name, when known
    reason: str


class CaseResumed(EventData):
    event_type = "case.resumed"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None  # the person's display name, when known
    paused_seconds: float
    total_paused_seconds: float
    deadlines: dict[str, datetime]


class CasePlanRecorded(EventData):
    event_type = "case.plan_recorded"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None  # the person's display name, when known
    plan: str
    # A plan that needed approval: who approved it (the drafter is ``by``).
    approved_by: str | None = None
    approved_by_name: str | None = None


class CaseResolved(EventData):
    """Carries what the follow-up needs to call the customer back."""

    event_type = "case.resolved"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None  # the person's display name, when known
    round: int
    resolution: str
    # What the resolution gave, in the vocabulary of the complaint's expected outcome (so the
    # two can be compared); None when the resolver did not say.
    resolution_kind: OutcomeKind | None = None
    compensation: str | None = None
    severity: Severity
    channel: Channel
    category: str
    customer: ContactCard
    tier: Tier
    level: str
    highest_level: str
    clocks_met: dict[str, bool]
    site: str | None = None
    team: str | None = None  # the team that owned the case when it was resolved
    # The compensation as an amount (``compensation`` stays its description), and who
    # approved it when it was above the resolver's limit.
    compensation_amount: Money | None = None
    compensation_approved_by: str | None = None
    compensation_approved_by_name: str | None = None
    # Time the clocks stood still (pauses, refusals) and plans waited for approval, all rounds.
    paused_seconds: float | None = None
    approval_wait_seconds: float | None = None


class CaseReopened(EventData):
    event_type = "case.reopened"

    complaint_id: uuid.UUID
    at: datetime
    round: int
    reason: str
    deadlines: dict[str, datetime]


class CaseOutcome(StrEnum):
    RESOLVED = "resolved"  # the customer confirmed satisfaction (or could not be reached)
    MOVED_TO_COURT = "moved_to_court"
    OUTSIDE_BODY = "outside_body"
    ENDED_BY_AGREEMENT = "ended_by_agreement"


class CaseClosed(EventData):
    event_type = "case.closed"

    complaint_id: uuid.UUID
    at: datetime
    outcome: CaseOutcome
    by: str | None = None
    by_name: str | None = None
    note: str | None = None
    paused_seconds: float | None = None  # the clocks stood still this long, all rounds


class CaseSuspended(EventData):
    """Handling stops because the matter moved to a court or an outside body; the case is ended
    (``case.closed``) when it is settled there."""

    event_type = "case.suspended"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None  # the person's display name, when known
    reason: CaseOutcome
    note: str | None = None


class AssignmentReason(StrEnum):
    OPENED = "opened"  # routed to a team when the case opened
    ESCALATED = "escalated"  # the case climbed a rung: the team serving that rung
    TAKEN = "taken"  # a person took it
    HANDED_OVER = "handed_over"  # handed to another person or team, with a reason
    FORWARDED = "forwarded"  # forwarded to another department


class CaseAssigned(EventData):
    """Who owns the case now: a team, and once someone takes it, a person. Actors are person
    ids from the staff directory (with the display name where known), never credentials."""

    event_type = "case.assigned"

    complaint_id: uuid.UUID
    at: datetime
    team: str | None
    assignee: str | None = None
    assignee_name: str | None = None
    rung: str
    reason: AssignmentReason
    note: str | None = None
    by: str | None = None
    by_name: str | None = None


class CaseForwarded(EventData):
    """Forwarded to the responsible department (DOMAIN.md: record, explain, forward; tell the
    customer when the answer will come: ``answer_by``)."""

    event_type = "case.forwarded"

    complaint_id: uuid.UUID
    at: datetime
    from_team: str | None
    to_team: str
    reason: str
    answer_by: datetime | None = None
    by: str
    by_name: str | None = None


# ---- approvals and authority ------------------------------------------------------------------


class CasePlanSubmitted(EventData):
    """A handling plan that needs approval before the customer is told (the policy says which
    severities, and the role that approves). ``approve_by``: the approval clock's deadline."""

    event_type = "case.plan_submitted"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None
    plan: str
    approver_role: str
    approve_by: datetime
    level: str


class CasePlanApproved(EventData):
    """The plan was approved; a ``case.plan_recorded`` (the plan told to the customer)
    follows."""

    event_type = "case.plan_approved"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None
    submitted_by: str
    plan: str
    waited_seconds: float  # from submission to this decision


class CasePlanRejected(EventData):
    """The plan was rejected with the reason; it must be redrafted."""

    event_type = "case.plan_rejected"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None
    submitted_by: str
    reason: str
    waited_seconds: float


class CaseCompensationRequested(EventData):
    """A resolution whose compensation is above the acting person's limit waits for someone
    whose limit covers it (``approver_role`` or above)."""

    event_type = "case.compensation_requested"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None
    amount: Money
    compensation: str | None = None
    resolution: str
    approver_role: str
    limit: Money | None = None  # the requester's own limit


class CaseCompensationApproved(EventData):
    """The compensation was approved; the resolution goes through (``case.resolved``
    follows, naming the approver)."""

    event_type = "case.compensation_approved"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None
    requested_by: str
    amount: Money


class CaseCompensationRejected(EventData):
    event_type = "case.compensation_rejected"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None
    requested_by: str
    amount: Money
    reason: str


class CaseAbuseFlagged(EventData):
    """A member of staff reports abuse by the customer (DOMAIN.md, "People")."""

    event_type = "case.abuse_flagged"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None
    note: str
    customer_id: str | None = None


class CaseServiceRefused(EventData):
    """A supervisor (or above) decided to refuse this customer further service under the
    company's policy (DOMAIN.md art. 8). The case's clocks stop until the decision is lifted.
    Whether intake then refuses the customer's new complaints is intake's choice."""

    event_type = "case.service_refused"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None
    reason: str
    customer_id: str | None = None
    flags: int  # abuse reports on the case


class CaseServiceRefusalLifted(EventData):
    event_type = "case.service_refusal_lifted"

    complaint_id: uuid.UUID
    at: datetime
    by: str
    by_name: str | None = None
    reason: str
    customer_id: str | None = None
    deadlines: dict[str, datetime]


class CasePauseOverdue(EventData):
    """A pause has lasted longer than the policy's ``pause_reminder.after``: a reminder to
    the case's owner (``reminder`` counts them: 1, 2, ...)."""

    event_type = "case.pause_overdue"

    complaint_id: uuid.UUID
    at: datetime
    paused_at: datetime
    reminder: int
    level: str
    team: str | None = None
    assignee: str | None = None
