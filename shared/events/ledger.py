"""Events the ledger service publishes on ``complaints.ledger.v1``.

Keys: the complaint id for a complaint's review events; ``month-end:<YYYY-MM>`` for the
month-end flags (one event per month listing every unresolved complaint, so a consumer sees
the month's whole list at once); ``summary:<period>`` for summaries. Only ids, rungs, teams
and figures travel: no customer contact data."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from shared.events.common import EventData


class FlaggedComplaint(BaseModel):
    complaint_id: uuid.UUID
    received_at: datetime | None = None
    age_days: int
    rung: str | None = None
    team: str | None = None
    site: str | None = None
    category: str | None = None
    severity: str | None = None
    status: str


class MonthEndFlagged(EventData):
    """The complaints still unresolved at the end of ``month`` (site time zone)."""

    event_type = "ledger.month_end_flagged"

    month: str  # YYYY-MM
    month_end: datetime  # the instant the month ended in the site's time zone
    time_zone: str
    count: int
    complaints: list[FlaggedComplaint]
    at: datetime


class SummaryPeriod(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"


class SummaryPublished(EventData):
    """A periodic summary (scheduled at the period's end, or asked for). ``figures`` is the
    summary as ``GET /summaries/{id}`` shows it."""

    event_type = "ledger.summary_published"

    summary_id: uuid.UUID
    period: SummaryPeriod
    start: date
    end: date  # exclusive
    trigger: str  # "scheduled" or "on_demand"
    figures: dict[str, Any]
    at: datetime


class ActionKind(StrEnum):
    CORRECTIVE = "corrective"
    PREVENTIVE = "preventive"


class ReviewAction(BaseModel):
    action_id: uuid.UUID
    kind: ActionKind
    description: str
    owner: str  # a person id of the staff directory
    due_at: datetime


class ReviewRecorded(EventData):
    """The internal review of a handled complaint: root cause and actions (the team's report
    back). ``report_late`` when it came after the report clock ran out."""

    event_type = "review.recorded"

    complaint_id: uuid.UUID
    root_cause: str
    root_cause_group: str | None = None
    summary: str | None = None
    actions: list[ReviewAction]
    by: str
    by_name: str | None = None
    at: datetime
    report_due_at: datetime | None = None
    report_late: bool = False


class ReviewActionDue(EventData):
    """A reminder: a corrective or preventive action is due soon and not done."""

    event_type = "review.action_due"

    complaint_id: uuid.UUID
    action_id: uuid.UUID
    kind: ActionKind
    owner: str
    due_at: datetime
    at: datetime


class ReviewActionOverdue(EventData):
    event_type = "review.action_overdue"

    complaint_id: uuid.UUID
    action_id: uuid.UUID
    kind: ActionKind
    owner: str
    due_at: datetime
    at: datetime


class ReviewReportOverdue(EventData):
    """The team did not report back (record the review) within the set time of finishing."""

    event_type = "review.report_overdue"

    complaint_id: uuid.UUID
    finished_at: datetime
    due_at: datetime
    team: str | None = None
    at: datetime
