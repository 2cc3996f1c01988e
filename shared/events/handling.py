"""Events the escalation service publishes on ``complaints.handling.v1`` (key: complaint id).

Levels name the rungs of the escalation ladder in the policy (``frontline``, ``team_lead``,
``supervisor``, ``customer_relations``, ``department_manager``, ``executive_office`` in the
bundled default). Clocks name the SLA clocks (``acknowledge``, ``investigate``, ``plan``,
and the on-site ``respond``); ``ladder`` in ``deadlines`` is when the current level's time on
the on-site ladder runs out."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from shared.events.common import Channel, ContactCard, EventData, Mode, Severity, Tier
from shared.events.intake import OutcomeKind


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
