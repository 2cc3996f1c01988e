"""Earlier versions of event contracts that are still published (their schema files stay in
``schemas/``) and the tolerant readers that accept every version a topic may still hold.

Version 1 of ``survey.requested`` and ``survey.recorded`` carried the survey token in clear.
Version 2 names the survey by an opaque ``survey_id`` and the resolution ``cycle`` it
measures. Version 1 named no survey: its call-back stands for it (follow-up asked for one
survey per call-back), so every reader, and the migrations of the stores, name a version-1
survey by its ``callback_id`` (:func:`v1_survey_id`); only one known by nothing but its token
is named by the token's hash."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, TypeVar

from shared.events.common import ContactCard, EventData, SatisfactionLevel, Tier
from shared.events.followup import SurveyReason
from shared.events.topics import Topics

# Fixed forever: ids of surveys known by token only are uuid5(LEGACY_NAMESPACE, sha256 hex).
LEGACY_NAMESPACE = uuid.UUID("5b0c2f61-94a4-4f0e-9d7c-3f1b2b6a9e01")

M = TypeVar("M", bound=EventData)


def token_sha256(token: str) -> str:
    """The hex SHA-256 of a survey token: the only form it is kept in outside notify."""
    return hashlib.sha256(token.encode()).hexdigest()


def legacy_survey_id(token_hash: str) -> uuid.UUID:
    """The id of a version-1 survey known by its token's hash alone (no call-back)."""
    return uuid.uuid5(LEGACY_NAMESPACE, token_hash)


def v1_survey_id(callback_id: uuid.UUID | None, token: str | None) -> uuid.UUID | None:
    """The id of the survey a version-1 event speaks of: its call-back's id, else one derived
    from the token; None for an answer taken without a survey."""
    if callback_id is not None:
        return callback_id
    return legacy_survey_id(token_sha256(token)) if token else None


def read(model: type[M], data: dict[str, Any]) -> M:
    """A reader's parse: fields the reader does not know are ignored (producers may add
    optional fields without asking their readers)."""
    return model.model_validate({k: v for k, v in data.items() if k in model.model_fields})


def is_v1(event_type: str, data: dict[str, Any]) -> bool:
    """Whether ``data`` is a version-1 survey event (it has the token, not the survey id)."""
    return event_type in RETIRED and "survey_token" in data


# ---- version 1, as published (the schema files are generated from these, unchanged) -------


class SurveyRequestedV1(EventData):
    """Ask the customer for a rating; the token is the single-use credential to answer."""

    event_type = "survey.requested"

    complaint_id: uuid.UUID
    callback_id: uuid.UUID
    survey_token: str
    customer: ContactCard
    requested_at: datetime
    reason: SurveyReason


class SurveyRecordedV1(EventData):
    """A survey answer (key: complaint id). ``score`` is 6 (very satisfied) .. 1."""

    event_type = "survey.recorded"

    complaint_id: uuid.UUID
    survey_token: str | None
    callback_id: uuid.UUID | None = None  # the call-back whose survey this answers, if any
    level: SatisfactionLevel
    score: int
    factors: list[str]
    comment: str | None = None
    taken_by: str  # "customer" (web form) or the agent who took it by phone
    recorded_at: datetime
    customer_id: str | None = None
    tier: Tier | None = None


RETIRED: dict[str, tuple[type[EventData], str]] = {
    "survey.requested": (SurveyRequestedV1, "followup"),
    "survey.recorded": (SurveyRecordedV1, "satisfaction"),
}


def retired_schemas() -> dict[str, dict]:
    """The JSON Schemas of the retired versions, as ``schemas/`` keeps them."""
    out = {}
    for event_type, (model, topic) in RETIRED.items():
        schema = model.model_json_schema()
        schema["title"] = event_type
        schema["x-topic"] = getattr(Topics(), topic)
        schema["$id"] = f"urn:complaint-platform:schema:{event_type}:v{model.schema_version}"
        out[f"{event_type}.v{model.schema_version}.json"] = schema
    return out
