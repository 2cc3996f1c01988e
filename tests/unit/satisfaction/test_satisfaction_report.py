"""Every report figure on hand-computed examples (see scenario.py), empty periods and
one-answer groups; the incremental contributions; levels, factors and alerts."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from services.satisfaction.domain.alerts import Decision, decide
from services.satisfaction.domain.contribution import (
    Answer,
    Contribution,
    Survey,
    contribution,
    delta,
    merge,
    resolve_bucket,
)
from services.satisfaction.domain.facts import Facts, fold
from services.satisfaction.domain.levels import clean_factors, parse_level
from services.satisfaction.domain.report import ReportPolicy, p90, summary
from services.satisfaction.settings import DEFAULT_LADDER
from services.satisfaction.store.rollups import split_months
from shared.events.common import SatisfactionLevel
from tests.unit.satisfaction import scenario

POLICY = ReportPolicy()


def fold_scenario() -> dict[str, Contribution]:
    """Fold the scenario's events per complaint; returns each complaint's contribution."""
    facts: dict[uuid.UUID, Facts] = {}
    surveys: dict[uuid.UUID, list[Survey]] = defaultdict(list)
    for _, data in scenario.lifecycle():
        cid = data.complaint_id  # type: ignore[attr-defined]
        f = facts.setdefault(cid, Facts(cid))
        if data.event_type == "survey.requested":  # type: ignore[attr-defined]
            surveys[cid].append(Survey(str(data.survey_id), data.requested_at, False))  # type: ignore[attr-defined]
        else:
            fold(f, data.event_type, data.model_dump(mode="json"), DEFAULT_LADDER)  # type: ignore[attr-defined]
    answers: dict[uuid.UUID, list[Answer]] = defaultdict(list)
    for a in scenario.answers():
        answers[a.complaint_id].append(
            Answer(str(uuid.uuid4()), a.score, tuple(a.factors), a.recorded_at)
        )
        surveys[a.complaint_id] = [
            Survey(s.survey_id, s.requested_at, s.survey_id == str(a.survey_id) or s.answered)
            for s in surveys[a.complaint_id]
        ]
    return {str(cid): contribution(f, surveys[cid], answers[cid]) for cid, f in facts.items()}


def total(parts: list[Contribution], dimension: str, value: str, start, end):
    sums: dict[str, int] = defaultdict(int)
    hist: dict[float, int] = defaultdict(int)
    factors: dict[tuple[str, int], int] = defaultdict(int)
    for part in parts:
        for (day, dim, val), counters in part.counters.items():
            if dim == dimension and val == value and start <= day <= end:
                for c, n in counters.items():
                    sums[c] += n
        for (day, dim, val, bucket), n in part.hist.items():
            if dim == dimension and val == value and start <= day <= end:
                hist[bucket] += n
        for (day, dim, val, factor, score), n in part.factors.items():
            if dim == dimension and val == value and start <= day <= end:
                factors[(factor, score)] += n
    return sums, list(hist.items()), [(f, s, n) for (f, s), n in factors.items()]


def test_the_hand_computed_report() -> None:
    parts = list(fold_scenario().values())
    s = summary(*total(parts, "all", "all", *scenario.PERIOD), POLICY)
    scenario.check_overall(s)
    assert s["satisfaction_rate"]["target"] == 0.85
    assert s["satisfaction_rate"]["meets_target"] is False
    assert s["timely_handling_rate"] == {
        "value": 2 / 3, "target": 1.0, "direction": "min", "meets_target": False
    }  # fmt: skip
    assert s["response_rate"]["target"] is None and s["response_rate"]["meets_target"] is None
    assert s["retention"]["resolved_quickly"] == 2
    assert s["retention"]["resolved_slowly"] == 1 and s["retention"]["unresolved"] == 1


def test_groups_by_channel_and_escalation_level() -> None:
    parts = list(fold_scenario().values())
    web = summary(*total(parts, "channel", "web", *scenario.PERIOD), POLICY)
    assert web["complaints"] == 3 and web["answers"] == 1  # one-answer group
    assert web["satisfaction_rate"]["value"] == 1.0
    assert web["satisfaction_rate"]["meets_target"] is True
    assert web["timely_handling_rate"]["value"] == 1.0
    assert web["timely_handling_rate"]["meets_target"] is True
    assert web["p90_time_to_resolve_seconds"]["value"] == 3600.0
    assert web["mean_time_to_resolve_seconds"]["value"] == 2100.0
    assert web["response_rate"]["value"] == 0.5
    assert web["reopen_rate"]["value"] == 0.0
    assert web["factors"]["low"] == []
    hotline = summary(*total(parts, "channel", "hotline", *scenario.PERIOD), POLICY)
    assert hotline["answers"] == 1 and hotline["satisfaction_rate"]["value"] == 0.0
    assert hotline["dissatisfaction_rate"]["value"] == 1.0
    assert hotline["reopen_rate"]["value"] == 1.0
    assert hotline["satisfaction_by_sla"]["met"]["answers"] == 0
    assert hotline["satisfaction_by_sla"]["met"]["satisfaction_rate"]["value"] is None
    supervisor = summary(*total(parts, "escalation_level", "supervisor", *scenario.PERIOD), POLICY)
    assert supervisor["complaints"] == 1 and supervisor["answers"] == 1
    vip = summary(*total(parts, "tier", "VIP", *scenario.PERIOD), POLICY)
    assert vip["complaints"] == 1


def test_periods_split_by_cohort_day() -> None:
    parts = list(fold_scenario().values())
    day1 = summary(*total(parts, "all", "all", scenario.DAY.date(), scenario.DAY.date()), POLICY)
    assert day1["complaints"] == 4 and day1["resolved"] == 3 and day1["answers"] == 0
    assert day1["satisfaction_rate"]["value"] is None
    day2 = summary(*total(parts, "all", "all", *(scenario.NEXT_DAY.date(),) * 2), POLICY)
    assert day2["complaints"] == 0 and day2["answers"] == 2 and day2["surveys_requested"] == 3
    assert day2["reopen_rate"]["value"] is None


def test_an_empty_period_has_no_figures_only_zeros_and_nones() -> None:
    s = summary({}, [], [], POLICY)
    assert s["answers"] == 0 and s["complaints"] == 0
    for name in (
        "satisfaction_rate", "dissatisfaction_rate", "response_rate", "timely_handling_rate",
        "mean_time_to_resolve_seconds", "p90_time_to_resolve_seconds", "reopen_rate",
    ):  # fmt: skip
        assert s[name]["value"] is None, name
        assert s[name]["meets_target"] is None, name
    assert s["satisfaction_rate"]["target"] == 0.85
    assert s["factors"] == {"low": [], "high": []}
    assert s["complaint_pyramid"]["silent_dissatisfied_estimate"] == 0
    assert s["retention"]["expected_retention_rate"]["value"] is None


def test_one_answer() -> None:
    s = summary({"l5": 1}, [], [("communication", 5, 1)], POLICY)
    assert s["answers"] == 1 and s["satisfaction_rate"]["value"] == 1.0
    assert s["dissatisfaction_rate"]["value"] == 0.0
    assert s["factors"]["high"] == [{"factor": "communication", "count": 1, "share": 1.0}]
    assert s["factors"]["low"] == []


def test_satisfaction_exactly_at_target_meets_it() -> None:
    s = summary({"l6": 10, "l5": 7, "l3": 3}, [], [], POLICY)
    assert math.isclose(s["satisfaction_rate"]["value"], 0.85)
    assert s["satisfaction_rate"]["meets_target"] is True


def test_configurable_multiplier_retention_and_max_targets() -> None:
    policy = ReportPolicy(
        silent_multiplier=10, retention_unresolved=0, retention_resolved=0.5,
        retention_resolved_quickly=1, targets_max={"dissatisfaction_rate": 0.05},
    )  # fmt: skip
    s = summary(
        {"complaints": 4, "resolved_cohort": 3, "quick_cohort": 1, "l1": 1, "l6": 9}, [], [], policy
    )
    assert s["complaint_pyramid"]["silent_dissatisfied_estimate"] == 40
    assert s["retention"]["expected_returning_customers"] == 2.0  # 1 x 1 + 2 x .5 + 1 x 0
    assert s["retention"]["expected_retention_rate"]["value"] == 0.5
    assert s["dissatisfaction_rate"] == {
        "value": 0.1, "target": 0.05, "direction": "max", "meets_target": False
    }  # fmt: skip


def test_factor_analysis_ranks_and_cuts() -> None:
    factors = [("speed", 1, 3), ("speed", 4, 1), ("attitude", 2, 4), ("solution", 3, 2),
               ("compensation", 3, 1), ("communication", 2, 1), ("other", 1, 1),
               ("attitude", 6, 5), ("solution", 5, 2)]  # fmt: skip
    # The answers behind them: 12 neutral and below, 8 satisfied and above.
    levels = {"l1": 4, "l2": 5, "l3": 2, "l4": 1, "l5": 2, "l6": 6}
    s = summary(levels, [], factors, ReportPolicy(top_factors=3))
    assert [(f["factor"], f["count"]) for f in s["factors"]["low"]] == [
        ("attitude", 4), ("speed", 4), ("solution", 2),
    ]  # fmt: skip
    # A share of the answers in the band (not of the 13 mentions).
    assert s["factors"]["low"][0]["share"] == 4 / 12
    assert [(f["factor"], f["count"]) for f in s["factors"]["high"]] == [
        ("attitude", 5), ("solution", 2),
    ]  # fmt: skip
    assert s["factors"]["high"][0]["share"] == 5 / 8


def test_p90_nearest_rank() -> None:
    assert p90([]) is None
    assert p90([(5.0, 1)]) == 5.0
    assert p90([(float(i), 1) for i in range(1, 11)]) == 9.0
    assert p90([(float(i), 1) for i in range(1, 12)]) == 10.0  # ceil(9.9) = 10
    assert p90([(1.0, 9), (100.0, 1)]) == 1.0
    assert p90([(1.0, 8), (100.0, 2)]) == 100.0


def test_resolve_buckets_keep_two_significant_figures() -> None:
    assert resolve_bucket(0) == 0.0
    assert resolve_bucket(3.24) == 3.2
    assert resolve_bucket(600) == 600.0
    assert resolve_bucket(10000) == 10000.0
    assert resolve_bucket(10800) == 11000.0


def test_a_reopen_moves_the_contribution_and_the_delta_is_exact() -> None:
    cid = uuid.uuid4()
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    f = Facts(cid, channel="web", category="billing", severity="general", tier="C",
              received_at=t0, handled=True)  # fmt: skip
    answers = [Answer("1", 6, ("speed",), t0 + timedelta(days=1))]
    fold(f, "case.resolved", {"at": (t0 + timedelta(hours=1)).isoformat(), "round": 1,
                              "clocks_met": {"plan": True}}, DEFAULT_LADDER)  # fmt: skip
    before = contribution(f, [], answers)
    assert before.counters[(t0.date(), "all", "all")]["resolved"] == 1
    fold(f, "complaint.reopened", {"at": (t0 + timedelta(hours=2)).isoformat()}, DEFAULT_LADDER)
    after = contribution(f, [], answers)
    change = delta(before, after)
    assert change.counters[(t0.date(), "all", "all")] == {
        "reopened": 1, "resolved_cohort": -1, "quick_cohort": -1, "resolved": -1,
        "timely": -1, "timed": -1, "resolve_ms": -3_600_000, "resolved_c1": -1,
    }  # fmt: skip
    assert change.hist == {(t0.date(), d, v, 3600.0): -1 for d, v in f.dimension_values().items()}
    assert change.factors == {}
    assert f.reopens == 1 and not f.resolved and f.cycles == 2
    # Resolved again, in its second cycle: no longer a first-contact resolution.
    fold(f, "case.resolved", {"at": (t0 + timedelta(hours=3)).isoformat(), "round": 2,
                              "clocks_met": {"plan": True}}, DEFAULT_LADDER)  # fmt: skip
    again = contribution(f, [], answers).counters[(t0.date(), "all", "all")]
    assert (again["resolved"], again.get("resolved_c1", 0), again["resolved_c2"]) == (1, 0, 1)


def test_folds_do_not_depend_on_order() -> None:
    events = [(d.event_type, d.model_dump(mode="json")) for _, d in scenario.lifecycle()  # type: ignore[attr-defined]
              if d.complaint_id == scenario.B and d.event_type != "survey.requested"]  # type: ignore[attr-defined]  # fmt: skip
    forward, backward = Facts(scenario.B), Facts(scenario.B)
    for t, data in events:
        fold(forward, t, data, DEFAULT_LADDER)
    for t, data in reversed(events):
        fold(backward, t, data, DEFAULT_LADDER)
    assert forward == backward
    assert forward.highest_level == "supervisor" and forward.sla == "missed"
    assert forward.reopens == 1 and forward.resolved
    assert forward.seconds_to_resolve == 10000


L = SatisfactionLevel


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("very_satisfied", L.VERY_SATISFIED),
        ("Very satisfied", L.VERY_SATISFIED),
        (6, L.VERY_SATISFIED),
        ("1", L.VERY_DISSATISFIED),
        ("resigned", L.RESIGNED),
        (4, L.NEUTRAL),
    ],
)
def test_levels_by_name_or_score(raw: object, level: SatisfactionLevel) -> None:
    assert parse_level(raw) is level


@pytest.mark.parametrize("raw", [0, 7, "happy", True, None, 5.5, ""])
def test_bad_levels(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_level(raw)


def test_factors_are_checked_against_the_list() -> None:
    assert clean_factors(["Speed", "speed", "attitude"], ["speed", "attitude"]) == [
        "speed", "attitude",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown factor 'price'"):
        clean_factors(["price"], ["speed"])


def test_alert_fires_once_and_again_only_after_recovery() -> None:
    assert decide(False, 10, 5, 0.85, 20) is Decision.NONE  # too few answers
    assert decide(False, 20, 10, 0.85, 20) is Decision.FIRE
    assert decide(True, 25, 12, 0.85, 20) is Decision.NONE  # still below: no second alert
    assert decide(True, 40, 34, 0.85, 20) is Decision.RECOVER  # 85 %: recovered
    assert decide(False, 40, 34, 0.85, 20) is Decision.NONE
    assert decide(False, 41, 34, 0.85, 20) is Decision.FIRE


def test_periods_split_into_whole_months_and_edge_days() -> None:
    d = date
    assert split_months(d(2026, 1, 15), d(2026, 3, 10)) == (
        [(d(2026, 1, 15), d(2026, 1, 31)), (d(2026, 3, 1), d(2026, 3, 10))],
        d(2026, 2, 1), d(2026, 2, 28),
    )  # fmt: skip
    assert split_months(d(2026, 1, 1), d(2026, 1, 31)) == ([], d(2026, 1, 1), d(2026, 1, 31))
    assert split_months(d(2026, 1, 5), d(2026, 1, 20)) == ([(d(2026, 1, 5), d(2026, 1, 20))],
                                                           None, None)  # fmt: skip
    assert split_months(d(2026, 1, 1), d(2026, 1, 20)) == ([(d(2026, 1, 1), d(2026, 1, 20))],
                                                           None, None)  # fmt: skip
    assert split_months(d(2025, 12, 31), d(2026, 2, 28)) == (
        [(d(2025, 12, 31), d(2025, 12, 31))], d(2026, 1, 1), d(2026, 2, 28),
    )  # fmt: skip


def test_merged_changes_sum_and_drop_zeros() -> None:
    day = date(2026, 1, 1)
    a = Contribution({(day, "all", "all"): {"l5": 1, "l1": 1}}, {(day, "all", "all", 60.0): 1}, {})
    b = Contribution({(day, "all", "all"): {"l5": 2, "l1": -1}}, {(day, "all", "all", 60.0): -1},
                     {(day, "all", "all", "speed", 5): 1})  # fmt: skip
    assert merge([a, b]) == Contribution(
        {(day, "all", "all"): {"l5": 3}}, {}, {(day, "all", "all", "speed", 5): 1}
    )
