"""Satisfaction per resolution cycle: which cycle an answer measures, when a survey can be
answered (open, answered, expired), first-contact resolution and the cycles resolutions
needed, and the trend's periods (quarters too)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.satisfaction.domain.contribution import contribution
from services.satisfaction.domain.facts import Facts, fold
from services.satisfaction.domain.report import ReportPolicy, resolution_cycles, summary
from services.satisfaction.domain.surveys import (
    AlreadyAnswered,
    Expired,
    FirstAnswer,
    SurveyRecord,
    SurveyStatus,
    check_answerable,
    cycle_of,
    expires_at,
    status,
)
from services.satisfaction.reports import period_starts
from services.satisfaction.settings import DEFAULT_LADDER

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
WEEK = timedelta(days=7)
CID = uuid.UUID(int=42)


def survey(cycle: int | None = 1, **changes) -> SurveyRecord:
    values = dict(
        survey_id=uuid.UUID(int=7), complaint_id=CID, cycle=cycle,
        requested_at=NOW - timedelta(days=1), expires_at=None, answered_at=None,
    )  # fmt: skip
    return SurveyRecord(**(values | changes))


FIRST = FirstAnswer(uuid.UUID(int=1), 1, NOW - timedelta(hours=3))


def test_an_answer_measures_its_surveys_cycle_else_the_complaints_current_one() -> None:
    assert cycle_of(survey(cycle=2), current_cycle=3) == 2
    assert cycle_of(survey(cycle=None), current_cycle=3) == 3  # a legacy survey
    assert cycle_of(None, current_cycle=1) == 1  # an agent's answer with no survey
    assert cycle_of(None, current_cycle=0) == 1


def test_a_complaints_current_cycle_counts_its_reopens() -> None:
    facts = Facts(CID)
    assert facts.cycles == 1
    fold(facts, "complaint.reopened", {"at": NOW.isoformat()}, DEFAULT_LADDER)
    assert facts.cycles == 2
    # Escalation tells of the same reopen: still the second cycle, not the third.
    fold(facts, "case.reopened", {"at": NOW.isoformat(), "round": 2}, DEFAULT_LADDER)
    assert facts.cycles == 2
    fold(facts, "case.resolved", {"at": NOW.isoformat(), "round": 3}, DEFAULT_LADDER)
    assert facts.cycles == 3


def test_a_survey_is_open_answered_or_expired() -> None:
    assert status(survey(), None, NOW, WEEK) is SurveyStatus.OPEN
    # Answered by its own link, or its cycle answered another way (an agent on the phone).
    assert status(survey(answered_at=NOW), None, NOW, WEEK) is SurveyStatus.ANSWERED
    assert status(survey(), FIRST, NOW, WEEK) is SurveyStatus.ANSWERED
    # The invitation's expiry decides; without one, the request time plus the validity.
    assert status(survey(expires_at=NOW - timedelta(seconds=1)), None, NOW, WEEK) is (
        SurveyStatus.EXPIRED
    )
    assert status(survey(expires_at=NOW + timedelta(days=30)), None, NOW + 2 * WEEK, WEEK) is (
        SurveyStatus.OPEN
    )
    assert status(survey(), None, NOW + WEEK, WEEK) is SurveyStatus.EXPIRED
    assert expires_at(survey(requested_at=None), WEEK) is None
    # Answered wins over expired: the customer hears their answer counted.
    late = survey(answered_at=NOW, expires_at=NOW - WEEK)
    assert status(late, None, NOW, WEEK) is SurveyStatus.ANSWERED


def test_a_second_answer_of_a_cycle_is_refused_naming_the_first() -> None:
    check_answerable(survey(), None, NOW, WEEK)
    with pytest.raises(AlreadyAnswered) as refused:
        check_answerable(survey(), FIRST, NOW, WEEK)
    assert refused.value.first == FIRST
    with pytest.raises(Expired):
        check_answerable(survey(expires_at=NOW - timedelta(minutes=1)), None, NOW, WEEK)


def resolved_in(cycles: int) -> Facts:
    facts = Facts(CID, channel="web", received_at=NOW - timedelta(days=2), handled=True)
    for n in range(1, cycles + 1):
        at = NOW - timedelta(hours=10 - n)
        if n > 1:
            fold(facts, "case.reopened", {"at": (at - timedelta(minutes=5)).isoformat(),
                                          "round": n}, DEFAULT_LADDER)  # fmt: skip
        fold(facts, "case.resolved", {"at": at.isoformat(), "round": n}, DEFAULT_LADDER)
    return facts


def test_first_contact_resolution_and_the_cycles_resolutions_needed() -> None:
    # Resolved in cycles 1, 1, 1, 2, 3, 5: first contact 3/6; the fifth counts as "4+".
    sums: dict[str, int] = {}
    for cycles in (1, 1, 1, 2, 3, 5):
        counters = contribution(resolved_in(cycles), [], []).counters
        for column, n in counters[(NOW.date(), "all", "all")].items():
            sums[column] = sums.get(column, 0) + n
    report = summary(sums, [], [], ReportPolicy())
    assert report["resolved"] == 6
    assert report["first_contact_resolution_rate"]["value"] == 0.5
    assert {k: v["resolved"] for k, v in report["resolved_by_cycle"].items()} == {
        "1": 3, "2": 1, "3": 1, "4+": 1,
    }  # fmt: skip
    assert report["resolved_by_cycle"]["2"]["share"] == 1 / 6


def test_no_resolutions_no_rate_and_a_target_when_configured() -> None:
    empty = resolution_cycles({}, 0, ReportPolicy())
    assert empty["first_contact_resolution_rate"]["value"] is None
    assert empty["resolved_by_cycle"]["1"] == {"resolved": 0, "share": None}
    policy = ReportPolicy(targets_min={"first_contact_resolution_rate": 0.8})
    fcr = resolution_cycles({1: 4, 2: 1}, 5, policy)["first_contact_resolution_rate"]
    assert fcr == {"value": 0.8, "target": 0.8, "direction": "min", "meets_target": True}


def test_trend_periods_by_day_week_month_and_quarter() -> None:
    start, end = date(2026, 2, 15), date(2026, 11, 3)
    assert period_starts("quarter", start, end) == [
        date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1),
    ]  # fmt: skip
    assert period_starts("quarter", date(2025, 12, 31), date(2026, 1, 1)) == [
        date(2025, 10, 1), date(2026, 1, 1),
    ]  # fmt: skip
    assert period_starts("month", date(2026, 1, 31), date(2026, 3, 1)) == [
        date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1),
    ]  # fmt: skip
    assert period_starts("week", date(2026, 11, 25), date(2026, 12, 1)) == [
        date(2026, 11, 23), date(2026, 11, 30),
    ]  # fmt: skip
    assert len(period_starts("day", date(2026, 11, 1), date(2026, 11, 30))) == 30
    # The end of the calendar: no overflow.
    assert period_starts("quarter", date(9999, 11, 1), date(9999, 12, 31)) == [date(9999, 10, 1)]
    assert period_starts("day", date(9999, 12, 30), date(9999, 12, 31))[-1] == date(9999, 12, 31)
