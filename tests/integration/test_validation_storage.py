"""Property (Hypothesis), against the real PostgreSQL: any complaint intake accepts (the
shared input check, then the submission model) is stored through the repository, with its
outbox event, and reads back unchanged."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.intake import usecases
from services.intake.domain.rules import IntakePolicy
from services.intake.domain.submission import ComplaintSubmission
from services.intake.settings import DEFAULT_CATEGORIES, DEFAULT_REJECTION_ANSWERS
from services.intake.store import repository
from shared.db import session_factory
from shared.events.common import Channel, Tier
from shared.events.intake import OutcomeKind, SubjectKind
from shared.events.topics import Topics
from shared.web.inputs import json_problems

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30)
HOSTILE = st.sampled_from(["a\x00b", "\ud800", "x\udfffy", " ", "李娜 ☎", "\u202e"]) | st.text(
    st.characters(codec=None, exclude_categories=()), min_size=1, max_size=10
)
ANY_TEXT = st.one_of(*[TEXT] * 9, HOSTILE)  # mostly storable, so most get stored
NUMBER = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0.1, 1e-320, 1e308, -0.0, 12345678901234567890])
)
DATE = st.dates().map(lambda d: d.isoformat()) | ANY_TEXT

SUBMISSIONS = st.fixed_dictionaries(
    {
        "customer": st.fixed_dictionaries(
            {"name": ANY_TEXT},
            optional={
                "id": ANY_TEXT,
                "phone": st.from_regex(r"\+?[0-9 ()-]{5,25}", fullmatch=True) | ANY_TEXT,
                "email": st.one_of(st.emails(), st.emails(), ANY_TEXT),
                "tier": st.sampled_from([t.value for t in Tier]),
                "address": ANY_TEXT,
            },
        ),
        "category": st.sampled_from(DEFAULT_CATEGORIES),
        "description": ANY_TEXT,
    },
    optional={
        "expected_outcome": st.fixed_dictionaries(
            {"kind": st.sampled_from([k.value for k in OutcomeKind])},
            optional={"details": ANY_TEXT, "amount": NUMBER},
        ),
        "subject": st.fixed_dictionaries(
            {"kind": st.sampled_from([k.value for k in SubjectKind])},
            optional={"reference": ANY_TEXT, "purchased_on": DATE, "warranty_until": DATE},
        ),
        "documents": st.lists(
            st.fixed_dictionaries({"name": ANY_TEXT}, optional={"kind": ANY_TEXT}), max_size=3
        ),
    },
)


def accepted(document: dict[str, Any]) -> ComplaintSubmission | None:
    parsed = json.loads(json.dumps(document))  # as the request handler decodes the body
    if list(json_problems(parsed)):
        return None
    try:
        return ComplaintSubmission.model_validate(parsed)
    except ValidationError:
        return None


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values: PostgreSQL's jsonb writes 1e308 out in full digits, which read
    back as an int of the same value (JSON has one number type)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=SUBMISSIONS)
async def test_any_complaint_accepted_is_stored_and_read_back_unchanged(messaging_engine, document):
    submission = accepted(document)
    event("refused" if submission is None else "stored")  # --hypothesis-show-statistics
    if submission is None:
        return
    sessions = session_factory(messaging_engine)
    recorded = await usecases.record_complaint(
        sessions, Topics("t."), IntakePolicy(), DEFAULT_REJECTION_ANSWERS, submission,
        Channel.WEB, None,
    )  # fmt: skip
    async with sessions() as session:
        stored = await repository.get_complaint(session, recorded.complaint["id"])
    assert stored is not None
    sent = submission.model_dump(mode="json")
    for name in ("customer", "description", "subject", "expected_outcome", "documents"):
        assert same_json(stored[name], sent[name]), name
