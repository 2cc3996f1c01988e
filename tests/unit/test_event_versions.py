"""Retired versions of the survey events: still readable, tolerant of fields a reader does
not know, and naming a version-1 survey the same way in every service."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.events.satisfaction import SurveyRecorded
from shared.events.versions import (
    SurveyRecordedV1,
    is_v1,
    legacy_survey_id,
    read,
    token_sha256,
    v1_survey_id,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def recorded(**changes) -> dict:
    data = {
        "complaint_id": str(uuid.UUID(int=1)), "survey_id": None, "cycle": 2,
        "level": "neutral", "score": 4, "factors": [], "taken_by": "customer",
        "recorded_at": NOW.isoformat(),
    }  # fmt: skip
    return data | changes


def test_a_reader_ignores_fields_it_does_not_know() -> None:
    assert read(SurveyRecorded, recorded(mood="grumpy")).cycle == 2
    with pytest.raises(ValidationError):
        read(SurveyRecorded, recorded(cycle=0))  # what it knows is still checked


def test_version_one_is_told_by_its_token() -> None:
    v1 = recorded(survey_token="abc")
    del v1["survey_id"], v1["cycle"]
    assert is_v1("survey.recorded", v1) and not is_v1("survey.recorded", recorded())
    assert not is_v1("case.resolved", v1)
    assert read(SurveyRecordedV1, v1).survey_token == "abc"


def test_a_version_one_survey_is_its_call_back_else_its_tokens_hash() -> None:
    callback = uuid.uuid4()
    assert v1_survey_id(callback, "abc") == callback
    assert v1_survey_id(None, "abc") == legacy_survey_id(token_sha256("abc"))
    assert v1_survey_id(None, None) is None
    assert token_sha256("abc") == hashlib.sha256(b"abc").hexdigest()
    # Fixed forever: stores migrated earlier derived the same ids.
    assert legacy_survey_id(token_sha256("abc")) == uuid.uuid5(
        uuid.UUID("5b0c2f61-94a4-4f0e-9d7c-3f1b2b6a9e01"), token_sha256("abc")
    )
