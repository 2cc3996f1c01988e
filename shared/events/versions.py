"""Earlier versions of event contracts that are still published (their schema files stay in
``schemas/``) and the tolerant readers that accept every version a topic may still hold.

Version 2 of ``followup.scheduled``, ``followup.due`` and ``followup.completed`` added the
call-back kinds ``after_sale`` and ``after_exchange``, and version 2 of ``customer.activity``
the activity kind ``exchange`` (an added enum value breaks readers that validate it); every
version-1 event is a valid version-2 event, so readers need nothing else.

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
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import Field

from shared.events.activity import ActivityCustomer
from shared.events.common import ContactCard, EventData, SatisfactionLevel, Tier
from shared.events.followup import SurveyReason, TierChange
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
    known = model.model_fields  # once: pydantic's class property is slow to reach
    return model.model_validate({k: v for k, v in data.items() if k in known})


def is_v1(event_type: str, data: dict[str, Any]) -> bool:
    """Whether ``data`` is a version-1 survey event (it has the token, not the survey id)."""
    return event_type in SURVEY_EVENTS and "survey_token" in data


SURVEY_EVENTS = frozenset({"survey.requested", "survey.recorded"})


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


# The enumerations as version 1 published them (their JSON Schema names stay the same).
CallbackKindV1 = StrEnum(  # type: ignore[misc]
    "CallbackKind",
    {"RESOLUTION": "resolution", "REMEDIAL": "remedial", "RETENTION": "retention"},
)
ActivityKindV1 = StrEnum("ActivityKind", {"VISIT": "visit", "PURCHASE": "purchase"})  # type: ignore[misc]


class FollowupScheduledV1(EventData):
    """A call-back was scheduled. ``customer`` carries the id and tier only: no consumer
    contacts the customer from it (the agents read the contact data from follow-up)."""

    event_type = "followup.scheduled"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    kind: CallbackKindV1  # type: ignore[valid-type]
    customer: ContactCard
    due_at: datetime
    reason: str
    overdue_at: datetime | None = None
    round: int | None = None  # the case round that was resolved (resolution call-backs)
    tier_change: TierChange | None = None  # retention call-backs


class FollowupDueV1(EventData):
    """The call-back is due: it enters the agents' work queue as one to call now."""

    event_type = "followup.due"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    kind: CallbackKindV1  # type: ignore[valid-type]
    due_at: datetime
    overdue_at: datetime
    attempt: int  # the attempt this is (1 = first call)
    team: str | None = None  # the follow-up team whose queue it is in (staff directory)
    assignee: str | None = None  # the person who took it, if anyone


class FollowupCompletedV1(EventData):
    """The customer was reached. ``satisfied`` is false only for a retention call-back (there
    is no complaint to reopen); an unhappy customer of a complaint is ``complaint.reopened``."""

    event_type = "followup.completed"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    at: datetime
    by: str
    customer_words: str | None = None
    kind: CallbackKindV1 | None = None  # type: ignore[valid-type]
    satisfied: bool = True


class CustomerActivityV1(EventData):
    """A customer's visit or purchase, published by the business's own systems on
    ``customers.activity.v1`` (record key and CloudEvent ``subject``: the customer id). A day
    with any activity counts as one visit towards the customer's monthly tier."""

    event_type = "customer.activity"

    customer: ActivityCustomer
    kind: ActivityKindV1  # type: ignore[valid-type]
    at: datetime = Field(description="When the visit or purchase happened (with a time zone)")
    amount: float | None = None
    location: str | None = None


RETIRED: dict[str, tuple[type[EventData], str]] = {
    "survey.requested": (SurveyRequestedV1, "followup"),
    "survey.recorded": (SurveyRecordedV1, "satisfaction"),
    "followup.scheduled": (FollowupScheduledV1, "followup"),
    "followup.due": (FollowupDueV1, "followup"),
    "followup.completed": (FollowupCompletedV1, "followup"),
    "customer.activity": (CustomerActivityV1, "activity"),
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
