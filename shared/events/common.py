"""Vocabulary shared by several event contracts."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Channel(StrEnum):
    WEB = "web"
    HOTLINE = "hotline"
    EMAIL = "email"
    COUNTER = "counter"
    FEEDBACK_CARD = "feedback_card"
    CALLBACK_VISIT = "callback_visit"
    LETTER = "letter"


# Complaints made in person are handled on the spot along the on-site ladder; the rest
# follow the remote clocks (DOMAIN.md, "Handling and escalation").
ON_SITE_CHANNELS = frozenset({Channel.COUNTER, Channel.CALLBACK_VISIT})


class Mode(StrEnum):
    ON_SITE = "on_site"
    REMOTE = "remote"


def mode_of(channel: Channel) -> Mode:
    return Mode.ON_SITE if channel in ON_SITE_CHANNELS else Mode.REMOTE


class Tier(StrEnum):
    VIP = "VIP"
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class Severity(StrEnum):
    GENERAL = "general"
    MAJOR = "major"


class EventData(BaseModel):
    """Base of every event's ``data``: names its CloudEvents type and schema version.

    Readers are tolerant: a field this version does not know (a producer already upgraded)
    is ignored, never a reason to refuse the event. Producers add fields compatibly."""

    model_config = ConfigDict(extra="ignore")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


class SatisfactionLevel(StrEnum):
    """The six levels of DOMAIN.md, best first; ``score`` is 6..1."""

    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    NEUTRAL = "neutral"
    RESIGNED = "resigned"
    DISSATISFIED = "dissatisfied"
    VERY_DISSATISFIED = "very_dissatisfied"

    @property
    def score(self) -> int:
        return 6 - list(SatisfactionLevel).index(self)

    @classmethod
    def from_score(cls, score: int) -> SatisfactionLevel:
        if not 1 <= score <= 6:
            raise ValueError("a satisfaction score is 1..6")
        return list(cls)[6 - score]


class ContactCard(BaseModel):
    """Who to call back: the customer's identity and contact data as intake recorded it."""

    id: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    tier: Tier = Tier.C
