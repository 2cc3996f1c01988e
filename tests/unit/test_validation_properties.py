"""Properties of the shared input validation (Hypothesis): whatever a service accepts can be
stored, whatever it refuses gets a 422 that renders, dates stay on the calendar, cursors
stay within bounds. Storing for real, through a repository, is in
tests/integration/test_validation_storage.py."""

from __future__ import annotations

import contextlib
import json
import math
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.responses import JSONResponse
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from services.intake.domain.submission import CustomerIn
from services.satisfaction.api.schemas import AgentAnswerIn
from shared.web.errors import MAX_ERRORS, safe_problems
from shared.web.inputs import INT64_MAX, json_problems
from shared.web.pagination import decode_cursor, encode_cursor
from shared.web.types import MAX_YEAR, MIN_YEAR, IsoDate, IsoDateTime

# Any text, lone surrogates and NULs included.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20) | st.sampled_from(
    ["\x00", "a\x00b", "\ud800", "x\udfffy", "", "李娜"]
)
ANY_NUMBER = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)
    | st.integers(min_value=-(2**70), max_value=-(2**63) + 2)
)
ANY_JSON = st.recursive(
    st.none() | st.booleans() | ANY_NUMBER | ANY_TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4)
    ),
    max_leaves=20,
)


def storable_as_postgres_json(value: object) -> bool:
    """What PostgreSQL's json/jsonb and text types take: strict JSON, valid UTF-8, no NUL
    (not even escaped as \\u0000)."""
    text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")
    return "\\u0000" not in text and "\x00" not in text


@given(ANY_JSON)
def test_a_body_without_problems_is_storable(value):
    if not list(json_problems(value)):
        assert storable_as_postgres_json(value)


@given(ANY_JSON)
def test_every_problem_names_a_place_in_the_body(value):
    for loc, message in json_problems(value):
        assert loc[0] == "body" and message
        where = value
        for step in loc[1:-1]:
            where = where[step]  # each step exists, so the 422 points at a real field


@settings(max_examples=40)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "type": ANY_TEXT,
                "loc": st.lists(ANY_TEXT | st.integers(), max_size=4),
                "msg": ANY_TEXT,
                "input": ANY_JSON,
                "ctx": st.dictionaries(ANY_TEXT, ANY_JSON, max_size=2),
            }
        ),
        max_size=25,
    )
)
def test_a_422_renders_whatever_the_input(errors):
    body = JSONResponse({"detail": safe_problems(errors)}, status_code=422).body
    shown = json.loads(body)["detail"]
    assert len(shown) == min(len(errors), MAX_ERRORS)
    assert all(set(p) == {"type", "loc", "msg"} for p in shown)  # the input is never echoed


DATETIMES = TypeAdapter(IsoDateTime)
DATES = TypeAdapter(IsoDate)


@given(
    st.one_of(
        st.datetimes(timezones=st.timezones() | st.none()).map(datetime.isoformat),
        st.datetimes(
            min_value=datetime(1, 1, 1),
            max_value=datetime(9999, 12, 31),
            timezones=st.sampled_from([UTC, None]),
        ).map(str),
        ANY_TEXT,
        ANY_NUMBER,
        st.booleans(),
    )
)
def test_accepted_datetimes_convert_and_shift_without_overflow(value):
    try:
        found = DATETIMES.validate_python(value)
    except ValidationError:
        return
    assert isinstance(value, str)  # never a number read as a Unix time
    assert MIN_YEAR <= found.year <= MAX_YEAR
    moment = found if found.tzinfo else found.replace(tzinfo=UTC)
    for shift in (timedelta(days=-365), timedelta(days=364)):
        (moment.astimezone(UTC) + shift).isoformat()


@given(st.one_of(st.dates().map(date.isoformat), ANY_TEXT, ANY_NUMBER, st.booleans()))
def test_accepted_dates_allow_a_report_period_either_way(value):
    try:
        found = DATES.validate_python(value)
    except ValidationError:
        return
    assert isinstance(value, str)
    assert found - timedelta(days=3 * 366) < found + timedelta(days=365)


@pytest.mark.parametrize("text", ["0.5", "1700000000", "2026-02-30", "9999-12-31", "0001-01-01"])
def test_numbers_and_edge_dates_are_refused(text):
    with pytest.raises(ValidationError):
        DATES.validate_python(text)
    with pytest.raises(ValidationError):
        DATETIMES.validate_python(text + ("" if len(text) < 10 else "T00:00:00+05:00"))


@given(
    st.datetimes(timezones=st.timezones()), st.integers() | st.integers(min_value=2**62), st.uuids()
)
def test_cursors_decode_within_bounds_or_not_at_all(moment, number, some_id):
    cursor = encode_cursor(moment, number, some_id)
    try:
        at, n, found = decode_cursor(cursor, datetime.fromisoformat, int, uuid.UUID)
    except ValueError:
        assert not (MIN_YEAR <= moment.year <= MAX_YEAR) or abs(number) > INT64_MAX
        return
    # Compared as text: an instant in a DST gap never equals one in another zone (PEP 495).
    assert (at.isoformat(), n, found) == (moment.isoformat(), number, some_id)
    at.astimezone(UTC)


@given(st.binary(max_size=60).map(lambda b: encode_cursor(b.decode("latin-1"))) | ANY_TEXT)
def test_any_cursor_text_is_decoded_or_refused_with_a_value_error(cursor):
    with contextlib.suppress(ValueError):
        decode_cursor(cursor, datetime.fromisoformat, int, uuid.UUID)


def accepted(model: type[BaseModel], document: object) -> BaseModel | None:
    """What a service accepts from this JSON: the shared check, then the model."""
    parsed = json.loads(json.dumps(document))  # as the request handler decodes it
    if list(json_problems(parsed)):
        return None
    try:
        return model.model_validate(parsed)
    except ValidationError:
        return None


@given(
    st.fixed_dictionaries(
        {"complaint_id": st.uuids().map(str)},
        optional={
            "level": st.booleans() | ANY_NUMBER | ANY_TEXT,
            "factors": st.lists(ANY_TEXT, max_size=3),
            "comment": ANY_TEXT | st.none(),
        },
    )
)
def test_a_survey_answer_accepted_is_storable_and_never_a_boolean_level(document):
    found = accepted(AgentAnswerIn, document)
    if found is None:
        return
    assert not isinstance(found.level, bool)
    assert not (isinstance(found.level, float) and not math.isfinite(found.level))
    assert storable_as_postgres_json(found.model_dump(mode="json"))


@settings(max_examples=200)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "name": ANY_TEXT,
            "phone": st.from_regex(r"\+?[0-9 ()./-]{0,30}", fullmatch=True) | ANY_TEXT,
            "email": ANY_TEXT,
            "tier": st.sampled_from(["VIP", "A", "B", "C", "D", True, 1]),
        },
    )
)
def test_contact_data_accepted_is_storable(document):
    found = accepted(CustomerIn, document)
    if found is None:
        return
    assert storable_as_postgres_json(found.model_dump(mode="json"))
    if found.phone is not None:
        assert 5 <= sum(c.isdigit() for c in found.phone) <= 20


@pytest.mark.parametrize(
    ("document", "loc"),
    [
        ({"a": "x\x00"}, ("body", "a")),
        ({"a": [1, {"b": "\ud800"}]}, ("body", "a", 1, "b")),
        ({"a\x00": 1}, ("body", "a\x00")),
        ({"amount": math.nan}, ("body", "amount")),
        ({"amount": float("inf")}, ("body", "amount")),
        ({"amount": json.loads("1e400")}, ("body", "amount")),
        ({"n": 2**63}, ("body", "n")),
    ],
)
def test_each_unstorable_value_is_named(document, loc):
    assert [found for found, _ in json_problems(document)] == [loc]


@pytest.mark.parametrize(
    ("phone", "ok"),
    [
        ("(010) 6552-9988", True),
        ("+86 (0)10 6552 9988", True),
        ("138/0013/8000", True),
        ("139.0024.4809", True),
        ("+1 (555) 010-4477", True),
        ("call me", False),
        ("1234", False),
        ("+", False),
        ("1" * 21, False),
    ],
)
def test_phone_numbers_in_the_format_the_message_names(phone, ok):
    assert (accepted(CustomerIn, {"phone": phone}) is not None) == ok
