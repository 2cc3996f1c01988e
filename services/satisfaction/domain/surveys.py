"""Survey rules: when a survey can be answered, and which resolution cycle an answer
measures. Satisfaction is measured once per complaint and cycle (DOMAIN.md: "survey right
after handling"; the issue: a remedial call-back must not count the customer twice). Pure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class SurveyStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    EXPIRED = "expired"


@dataclass(frozen=True)
class SurveyRecord:
    survey_id: uuid.UUID
    complaint_id: uuid.UUID
    cycle: int | None  # None: a legacy survey that did not say
    requested_at: datetime | None
    expires_at: datetime | None  # from the invitation
    answered_at: datetime | None


@dataclass(frozen=True)
class FirstAnswer:
    """The answer that already measures a cycle: named in the 409 of a second one."""

    answer_id: uuid.UUID
    cycle: int
    recorded_at: datetime
    survey_id: uuid.UUID | None = None


class AlreadyAnswered(Exception):
    def __init__(self, first: FirstAnswer | None) -> None:
        super().__init__("this resolution cycle already has its answer")
        self.first = first


class Expired(Exception):
    pass


def expires_at(survey: SurveyRecord, valid_for: timedelta) -> datetime | None:
    """The invitation's expiry; for a survey invited before invitations said (or not yet
    known to be invited), the request time plus the configured validity."""
    if survey.expires_at is not None:
        return survey.expires_at
    if survey.requested_at is not None:
        return survey.requested_at + valid_for
    return None


def cycle_of(survey: SurveyRecord | None, current_cycle: int) -> int:
    """The cycle an answer measures: its survey's, else the complaint's current one."""
    if survey is not None and survey.cycle is not None:
        return survey.cycle
    return max(current_cycle, 1)


def status(
    survey: SurveyRecord,
    first: FirstAnswer | None,
    now: datetime,
    valid_for: timedelta,
) -> SurveyStatus:
    """``first``: the answer already given for the survey's cycle, if any (by this survey's
    link or by an agent on the phone)."""
    if survey.answered_at is not None or first is not None:
        return SurveyStatus.ANSWERED
    end = expires_at(survey, valid_for)
    if end is not None and now > end:
        return SurveyStatus.EXPIRED
    return SurveyStatus.OPEN


def check_answerable(
    survey: SurveyRecord, first: FirstAnswer | None, now: datetime, valid_for: timedelta
) -> None:
    """Raise what forbids answering ``survey`` now: a cycle answered wins over an expiry."""
    found = status(survey, first, now, valid_for)
    if found is SurveyStatus.ANSWERED:
        raise AlreadyAnswered(first)
    if found is SurveyStatus.EXPIRED:
        raise Expired
