"""Internal reviews (DOMAIN.md: "review internally so it does not recur"; "teams report back
within 3 days of finishing"): the root-cause taxonomy, the report-back clock and the action
reminders. Pure, besides ``load_taxonomy`` reading its file."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.config_files import At, load_yaml_model

BUNDLED_TAXONOMY = Path(__file__).resolve().parent.parent / "root_causes.yaml"
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RootCause(_Strict):
    code: str
    label: str = Field(min_length=1)
    group: str | None = None
    description: str | None = None

    @field_validator("code")
    @classmethod
    def _code(cls, code: str) -> str:
        if not _CODE.match(code):
            raise ValueError("a code is lower case letters, digits and _ (like product_defect)")
        return code


class Taxonomy(_Strict):
    version: str
    root_causes: tuple[RootCause, ...] = Field(min_length=1)

    def find(self, code: str) -> RootCause | None:
        return next((c for c in self.root_causes if c.code == code), None)

    @property
    def codes(self) -> list[str]:
        return [c.code for c in self.root_causes]


def _unique_codes(taxonomy: Taxonomy) -> None:
    seen: set[str] = set()
    for index, cause in enumerate(taxonomy.root_causes):
        if cause.code in seen:
            raise At(("root_causes", index, "code"), f"the code {cause.code!r} appears twice")
        seen.add(cause.code)


def load_taxonomy(path: Path) -> Taxonomy:
    """Raises ConfigError naming the file, the line and the problem."""
    return load_yaml_model(path, Taxonomy, _unique_codes, what="root-cause taxonomy")


class ReportState(StrEnum):
    AWAITING = "awaiting"  # the case finished; the team has not reported back yet
    OVERDUE = "overdue"  # the clock ran out before the report came
    REPORTED = "reported"
    REPORTED_LATE = "reported_late"
    NOT_DUE = "not_due"  # the case was reopened before the report: no clock runs


@dataclass(frozen=True)
class ReportClock:
    finished_at: datetime
    due_at: datetime


def report_clock(finished_at: datetime, within: timedelta) -> ReportClock:
    return ReportClock(finished_at, finished_at + within)


def report_state(
    due_at: datetime | None, reported_at: datetime | None, overdue_at: datetime | None
) -> ReportState:
    if reported_at is not None:
        late = due_at is not None and reported_at > due_at
        return ReportState.REPORTED_LATE if late else ReportState.REPORTED
    if due_at is None:
        return ReportState.NOT_DUE
    return ReportState.OVERDUE if overdue_at is not None else ReportState.AWAITING


def is_overdue(due_at: datetime | None, reported_at: datetime | None, now: datetime) -> bool:
    """Overdue: not reported and past due, or reported after due (a breached clock stays
    breached)."""
    if due_at is None:
        return False
    return (reported_at or now) > due_at


def reminder_at(due_at: datetime, before: timedelta, now: datetime) -> datetime | None:
    """When to remind the owner of an action; None when that moment has already passed."""
    at = due_at - before
    return at if at > now else None


@dataclass
class ReportClockState:
    """One review's report-back clock as the consumer's batch path changes it in memory:
    the same transitions as ``reviews.start_report_clock`` / ``stop_report_clock`` applied
    event after event, then written once. ``armed``: the due time of the report timer left
    pending after the events so far (every finish or reopen cancels the one before)."""

    complaint_id: uuid.UUID
    exists: bool = False  # a review row is stored (or will be)
    recorded: bool = False  # the team reported back: the clock no longer moves
    finished_at: datetime | None = None
    report_due_at: datetime | None = None
    went_overdue_at: datetime | None = None
    team: str | None = None
    changed: bool = False
    armed: datetime | None = None

    def finish(
        self, event_type: str, finished: datetime | None, team: str | None, within: timedelta
    ) -> None:
        """The case finished (resolved, closed, suspended); ``finished``: when, from the
        entry. A close or suspension after a resolution keeps the running clock."""
        self.armed = None
        if self.recorded:
            return
        running = self.exists and self.report_due_at is not None
        if event_type != "case.resolved" and running:
            if self.went_overdue_at is None:
                self.armed = self.report_due_at
            return
        if finished is None:
            return
        clock = report_clock(finished, within)
        self.finished_at, self.report_due_at = clock.finished_at, clock.due_at
        self.went_overdue_at, self.team = None, team
        self.exists = self.changed = True
        self.armed = clock.due_at

    def reopen(self) -> None:
        """Reopened before the report: no clock runs until handling finishes again."""
        self.armed = None
        if not self.exists or self.recorded:
            return
        self.finished_at = self.report_due_at = self.went_overdue_at = None
        self.changed = True
