"""The documents' figures and the handling figures, each on a hand-computed example."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.satisfaction.domain.contribution import contribution
from services.satisfaction.domain.facts import Facts, fold
from services.satisfaction.domain.figures import (
    churn_projection,
    factor_bands,
    load_figures,
    pyramid_projection,
    return_projection,
    silent_projection,
    tier_key,
)
from services.satisfaction.domain.report import ReportPolicy, summary
from services.satisfaction.settings import DEFAULT_LADDER
from shared.config_files import ConfigError

FIGURES = load_figures()
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_the_bundled_figures_are_the_documents_with_their_sources() -> None:
    assert FIGURES.churn_by_level.rates == {
        "very_satisfied": 0.02, "satisfied": 0.10, "neutral": 0.20, "resigned": 0.40,
        "dissatisfied": 0.40, "very_dissatisfied": 0.80,
    }  # fmt: skip
    assert FIGURES.complaint_pyramid.split.model_dump() == {
        "never_complained": 0.69, "frontline_only": 0.23, "management": 0.08,
    }  # fmt: skip
    assert FIGURES.silent_per_complaint.value == 24
    assert FIGURES.return_rates.rates == {
        "not_complained": 0.09, "unresolved": 0.19, "resolved": 0.54, "resolved_quickly": 0.82,
    }  # fmt: skip
    assert "003" in FIGURES.churn_by_level.source and "000" in FIGURES.return_rates.source
    assert "004 art. 2" in FIGURES.factor_bands.source


def test_churn_by_level_applied_to_the_answers() -> None:
    # 10 very satisfied, 5 satisfied, 4 neutral, 1 resigned, 2 dissatisfied, 3 very dissatisfied
    levels = {6: 10, 5: 5, 4: 4, 3: 1, 2: 2, 1: 3}
    found = churn_projection(levels, FIGURES)
    # 10 x .02 + 5 x .10 + 4 x .20 + 1 x .40 + 2 x .40 + 3 x .80 = .2 + .5 + .8 + .4 + .8 + 2.4
    assert math.isclose(found["expected_lost"], 5.1)
    assert found["answers"] == 25
    assert math.isclose(found["expected_churn_rate"], 5.1 / 25)
    assert found["levels"][0]["level"] == "very_satisfied"
    assert math.isclose(found["levels"][-1]["expected_lost"], 2.4)


def test_pyramid_silent_customers_and_return_rates() -> None:
    pyramid = pyramid_projection(31, 8, FIGURES)
    # The platform's 31 complaints are the 23 % + 8 % layers: 31 x .69 / .31 = 69 silent.
    assert math.isclose(pyramid["estimated_never_complained"], 69)
    assert pyramid["frontline_only"] == 23 and pyramid["observed_management_share"] == 8 / 31
    assert math.isclose(pyramid["expected_management_share"], 0.08 / 0.31)
    assert pyramid_projection(31, None, FIGURES)["frontline_only"] is None
    assert silent_projection(4, FIGURES)["estimated_silent_customers"] == 96
    # 10 complaints: 5 resolved quickly, 3 resolved otherwise, 2 unresolved; 240 silent.
    returns = return_projection(10, 5, 3, FIGURES)
    expected = {"not_complained": (240, 21.6), "unresolved": (2, 0.38), "resolved": (3, 1.62),
                "resolved_quickly": (5, 4.1)}  # fmt: skip
    for group in returns["groups"]:
        customers, returning = expected[group["group"]]
        assert group["customers"] == customers
        assert math.isclose(group["expected_returning"], returning)
    assert math.isclose(returns["complainants_expected_returning"], 0.38 + 1.62 + 4.1)
    assert math.isclose(returns["complainant_return_rate"], 0.61)
    assert math.isclose(returns["expected_returning"], 21.6 + 6.1)


def test_factor_bands_are_shares_of_the_answers_in_each_band() -> None:
    # 4 answers that will leave (resigned and below), 5 that will come back; neutral in neither.
    levels = {6: 3, 5: 2, 4: 7, 3: 1, 2: 1, 1: 2}
    factors = [("speed", 1, 2), ("attitude", 2, 1), ("speed", 3, 1), ("product", 4, 5),
               ("solution", 6, 3), ("speed", 5, 1)]  # fmt: skip
    found = factor_bands(factors, levels, FIGURES, top=5)
    away, back = found["drive_away"], found["bring_back"]
    assert away["answers"] == 4 and back["answers"] == 5
    assert away["levels"] == ["resigned", "dissatisfied", "very_dissatisfied"]
    assert [(f["factor"], f["answers"], f["share_of_answers"]) for f in away["factors"]] == [
        ("speed", 3, 3 / 4), ("attitude", 1, 1 / 4),
    ]  # fmt: skip
    assert [(f["factor"], f["share_of_answers"]) for f in back["factors"]] == [
        ("solution", 3 / 5), ("speed", 1 / 5),
    ]  # fmt: skip


def test_tiers_most_valuable_first() -> None:
    order = sorted(["unknown", "C", "A", "VIP", "D", "B"], key=lambda t: tier_key(t, FIGURES))
    assert order == ["VIP", "A", "B", "C", "D", "unknown"]


def test_a_bad_figures_file_names_its_line(tmp_path: Path) -> None:
    text = Path("services/satisfaction/policies/figures.yaml").read_text()
    bad = tmp_path / "figures.yaml"
    bad.write_text(text.replace("management: 0.08", "management: 0.18"))
    with pytest.raises(ConfigError, match="add up to 1"):
        load_figures(bad)
    bad.write_text(text.replace("drive_away: [resigned,", "drive_away: [satisfied, resigned,"))
    with pytest.raises(ConfigError, match=r"line \d+.*bring_back"):
        load_figures(bad)


def _facts(events: list[tuple[str, dict]]) -> Facts:
    facts = Facts(uuid.UUID(int=1))
    for event_type, data in events:
        fold(facts, event_type, data, DEFAULT_LADDER)
    return facts


def _received(**extra) -> tuple[str, dict]:
    data = {"channel": "web", "category": "billing", "severity": "general",
            "customer": {"tier": "A"}, "received_at": T0}  # fmt: skip
    return ("complaint.received", data | extra)


def _resolved(after: float, **extra) -> tuple[str, dict]:
    return ("case.resolved", {"at": T0 + timedelta(seconds=after), "round": 1,
                              "clocks_met": {"acknowledge": True}} | extra)  # fmt: skip


def _figures(*event_lists: list[tuple[str, dict]], answers=()) -> dict:
    total: dict[str, int] = {}
    for events in event_lists:
        part = contribution(_facts(events), [], answers)
        for (_, dimension, _), counters in part.counters.items():
            if dimension == "all":
                for k, n in counters.items():
                    total[k] = total.get(k, 0) + n
    return summary(total, [], [], ReportPolicy())


def test_rejections_by_reason_beside_the_valid_complaints() -> None:
    rejected = [("complaint.rejected", {"received_at": T0, "reason": "out_of_warranty",
                 "channel": "web", "category": "billing", "customer": {"tier": "B"}})]  # fmt: skip
    litigation = [("complaint.rejected", {"received_at": T0, "reason": "in_litigation",
                   "channel": "web", "category": "billing"})]  # fmt: skip
    part = contribution(_facts(rejected), [], [])
    # Never a case: grouped by channel, category and tier, not by severity or rung.
    assert {dimension for (_, dimension, _) in part.counters} == {
        "all", "channel", "category", "tier",
    }  # fmt: skip
    found = _figures(rejected, rejected, litigation, [_received()])
    assert found["complaints"] == 1
    assert found["rejections"] == {
        "rejected": 3, "valid": 1, "rejected_share": 3 / 4,
        "by_reason": {"out_of_warranty": 2, "not_covered": 0, "in_litigation": 1,
                      "damages_claim": 0},
    }  # fmt: skip


def test_expected_outcome_against_what_the_customer_got() -> None:
    from services.satisfaction.domain.contribution import Answer

    def answer(score: int) -> Answer:
        return Answer("a", score, (), T0 + timedelta(days=1))

    refund = {"expected_outcome": {"kind": "refund"}}
    same = [_received(**refund), _resolved(60, resolution_kind="refund")]
    other = [_received(**refund), _resolved(60, resolution_kind="apology")]
    unknown = [_received(**refund), _resolved(60)]  # the resolver did not say
    total: dict[str, int] = {}
    for events, score in ((same, 6), (same, 5), (other, 2), (unknown, 6)):
        part = contribution(_facts(events), [], [answer(score)])
        for (_, dimension, _), counters in part.counters.items():
            if dimension == "all":
                for k, n in counters.items():
                    total[k] = total.get(k, 0) + n
    found = summary(total, [], [], ReportPolicy())["expectation"]
    assert (found["resolved_compared"], found["same_kind"], found["other_kind"]) == (3, 2, 1)
    assert math.isclose(found["same_kind_rate"]["value"], 2 / 3)
    assert found["satisfaction"]["same_kind"]["answers"] == 2
    assert found["satisfaction"]["same_kind"]["satisfaction_rate"]["value"] == 1.0
    assert found["satisfaction"]["other_kind"]["satisfaction_rate"]["value"] == 0.0


def test_the_latest_resolution_decides_the_kind_whatever_the_order() -> None:
    first = _resolved(60, resolution_kind="apology")
    last = _resolved(600, resolution_kind="refund", round=2)
    for events in ([first, last], [last, first]):
        assert _facts([_received(), *events]).resolution_kind == "refund"


def test_timely_handling_counts_open_cases_that_already_breached() -> None:
    on_time = [_received(), _resolved(60)]
    late = [_received(), _resolved(60, clocks_met={"acknowledge": False})]
    open_breached = [_received(), ("case.sla_breached", {"at": T0 + timedelta(hours=2),
                                                        "clock": "acknowledge"})]  # fmt: skip
    open_in_time = [_received(), ("case.opened", {"opened_at": T0, "level": "frontline"})]
    found = _figures(on_time, late, open_breached, open_in_time)
    # 1 on time of 2 resolved + 1 open already breached (the open one in time is not judged).
    assert (found["resolved_timely"], found["resolved"], found["unresolved_breached"]) == (1, 2, 1)
    assert found["timely_measured"] == 3
    assert math.isclose(found["timely_handling_rate"]["value"], 1 / 3)


def test_paused_time_and_waits_for_contact_data_and_approval() -> None:
    def at(minutes: float) -> datetime:
        return T0 + timedelta(minutes=minutes)

    paused = [
        _received(),
        ("case.paused", {"at": at(10), "reason": "waiting for the customer"}),
        ("case.resumed", {"at": at(40), "paused_seconds": 1800.0}),
        ("case.paused", {"at": at(50), "reason": "again"}),
        ("case.resumed", {"at": at(60), "paused_seconds": 600.0}),
        ("case.plan_submitted", {"at": at(70)}),
        ("case.plan_approved", {"at": at(80), "waited_seconds": 600.0}),
        _resolved(6000),
    ]
    paused_now = [_received(), ("case.paused", {"at": at(10), "reason": "x"})]
    awaiting_approval = [_received(), ("case.plan_submitted", {"at": at(5)})]
    contact = [_received(information_complete=False),
               ("complaint.completed", {"completed_at": at(90)})]  # fmt: skip
    still_waiting = [_received(information_complete=False)]
    # Intake closed it as unreachable: no longer waiting.
    closed_event = {"closed_at": at(600), "received_at": T0}
    closed = [_received(information_complete=False),
              ("complaint.closed_unreachable", closed_event)]  # fmt: skip
    # Escalation's own totals, where it reports them, win over the sum seen.
    reported = [_received(), _resolved(6000, paused_seconds=3000.0, approval_wait_seconds=60.0)]
    found = _figures(
        paused, paused_now, awaiting_approval, contact, still_waiting, reported, closed
    )
    waits = found["waits"]
    assert waits["paused"] == {"complaints": 2, "total_seconds": 5400.0, "mean_seconds": 2700.0,
                               "paused_now": 1}  # fmt: skip
    assert waits["approval"] == {"complaints": 2, "total_seconds": 660.0, "mean_seconds": 330.0,
                                 "waiting_now": 1}  # fmt: skip
    assert waits["contact_data"] == {"complaints": 1, "total_seconds": 5400.0,
                                     "mean_seconds": 5400.0, "waiting_now": 1,
                                     "closed_unreachable": 1}  # fmt: skip


def test_a_trend_point_is_the_summary_s_main_rates() -> None:
    from services.satisfaction.domain.report import trend_point

    sums = {"l6": 3, "l5": 1, "l2": 2, "l1": 1, "requested": 8, "requested_answered": 7,
            "resolved": 5, "timely": 3, "unresolved_breached": 1, "complaints": 9,
            "resolved_c1": 4}  # fmt: skip
    full, point = summary(sums, [], [], ReportPolicy()), trend_point(sums, ReportPolicy())
    assert point == {k: full[k] for k in point}
    assert point["timely_handling_rate"]["value"] == 3 / 6
