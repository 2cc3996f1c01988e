"""Request bodies. A level is a name or a score 6..1; checked in the routes so the 422
names the field."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Strict: a boolean is not a level (lax int parsing would read true as 1).
    level: StrictStr | StrictInt = Field(description="very_satisfied .. very_dissatisfied, or 6..1")
    factors: list[str] = Field(default=[], max_length=20)
    comment: str | None = Field(default=None, description="Free text, any language")


class AgentAnswerIn(AnswerIn):
    complaint_id: uuid.UUID
    survey_token: str | None = Field(default=None, max_length=200)


class Recorded(BaseModel):
    answer_id: uuid.UUID  # the id of its survey.recorded event
    complaint_id: uuid.UUID
    cycle: int  # the resolution cycle this answer measures
    level: str
    score: int
    factors: list[str]
    taken_by: str
    message: str


class FirstAnswerOut(BaseModel):
    """The answer a cycle already has (in a 409)."""

    answer_id: uuid.UUID
    cycle: int
    recorded_at: datetime


class SurveyOut(BaseModel):
    status: Literal["open", "answered", "expired"]
    cycle: int | None
    expires_at: datetime | None
    answered_at: datetime | None
