"""Request and response bodies of the ledger's API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.events.ledger import ActionKind, SummaryPeriod
from shared.web.types import IsoDate, IsoDateTime


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LedgerPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


class SummaryIn(_In):
    period: SummaryPeriod
    start: IsoDate = Field(description="A day of the period; the summary covers the whole period")


class ActionBody(_In):
    kind: ActionKind
    description: str = Field(min_length=1, max_length=2000)
    owner: str = Field(min_length=1, max_length=200, description="The owner's person id")
    due_at: IsoDateTime


class ReviewBody(_In):
    root_cause: str = Field(min_length=1, max_length=100, description="A taxonomy code")
    summary: str | None = Field(default=None, max_length=4000)
    actions: list[ActionBody] = Field(min_length=1, max_length=50)


class ActionDoneBody(_In):
    note: str | None = Field(default=None, max_length=2000)


class ReviewOut(BaseModel):
    complaint_id: uuid.UUID
    finished_at: datetime | None
    report_due_at: datetime | None
    report_state: str
    overdue: bool
    team: str | None
    root_cause: str | None
    root_cause_group: str | None
    summary: str | None
    recorded_at: datetime | None
    recorded_by: str | None
    recorded_by_name: str | None
    actions: list[dict[str, Any]]
