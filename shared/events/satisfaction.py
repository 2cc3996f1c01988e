"""Events the satisfaction service publishes on ``complaints.satisfaction.v1``."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from shared.events.common import EventData, SatisfactionLevel, Tier


class SurveyRecorded(EventData):
    """A survey answer (key: complaint id). ``score`` is 6 (very satisfied) .. 1. One answer
    per complaint and resolution ``cycle``. Version 2: the survey is named by its opaque
    ``survey_id``, never by its token."""

    event_type = "survey.recorded"
    schema_version = 2

    complaint_id: uuid.UUID
    survey_id: uuid.UUID | None  # None: an agent took it with no survey sent
    cycle: int = Field(ge=1)  # the resolution cycle (case round) the answer measures
    callback_id: uuid.UUID | None = None  # the call-back whose survey this answers, if any
    level: SatisfactionLevel
    score: int
    factors: list[str]
    comment: str | None = None
    taken_by: str  # "customer" (web form) or the agent who took it by phone
    recorded_at: datetime
    customer_id: str | None = None
    tier: Tier | None = None


class SatisfactionAlert(EventData):
    """The satisfaction rate of a dimension fell below target over a rolling window
    (key: ``dimension:value``). Published once; again only after a recovery."""

    event_type = "satisfaction.alert"

    dimension: str
    dimension_value: str
    value: float
    target: float
    window_days: int
    answers: int
    at: datetime
