"""The report figures, computed from summed rollup counters. Pure: unit tested on
hand-computed examples. A rate with an empty denominator is None ("no data"), never 0."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.satisfaction.domain import figures as documents
from services.satisfaction.domain.contribution import COUNTERS, CYCLES, REJECTION_REASONS, SCORES
from services.satisfaction.domain.figures import FiguresPolicy, load_figures
from services.satisfaction.domain.levels import LEVELS


@dataclass(frozen=True)
class ReportPolicy:
    targets_min: Mapping[str, float] = field(
        default_factory=lambda: {"satisfaction_rate": 0.85, "timely_handling_rate": 1.0}
    )
    targets_max: Mapping[str, float] = field(default_factory=dict)
    silent_multiplier: float = 24
    retention_unresolved: float = 0.19
    retention_resolved: float = 0.54
    retention_resolved_quickly: float = 0.82
    top_factors: int = 5
    satisfied_min_score: int = 5  # very satisfied + satisfied
    dissatisfied_max_score: int = 2  # dissatisfied + very dissatisfied
    low_max_score: int = 4  # "low" answers for the factor analysis: neutral and below
    # The escalation ladder, lowest first (the pyramid's management rung is ranked on it).
    ladder: tuple[str, ...] = (
        "frontline", "team_lead", "supervisor", "customer_relations", "department_manager",
        "executive_office",
    )  # fmt: skip
    # The documents' figures with their sources (policies/figures.yaml).
    figures: FiguresPolicy = field(default_factory=load_figures)


def ratio(part: float, whole: float) -> float | None:
    return None if not whole else part / whole


def figure(name: str, value: float | None, policy: ReportPolicy) -> dict[str, Any]:
    """A figure beside its target: ``meets_target`` is None without a target or a value."""
    if name in policy.targets_min:
        target, direction = policy.targets_min[name], "min"
    elif name in policy.targets_max:
        target, direction = policy.targets_max[name], "max"
    else:
        return {"value": value, "target": None, "direction": None, "meets_target": None}
    meets = None
    if value is not None:
        # Compare with a hair of tolerance: 17/20 is 0.85 even in floating point.
        meets = value >= target - 1e-12 if direction == "min" else value <= target + 1e-12
    return {"value": value, "target": target, "direction": direction, "meets_target": meets}


def p90(hist: Iterable[tuple[float, int]]) -> float | None:
    """Nearest-rank 90th percentile over (bucket, count) pairs."""
    pairs = sorted((b, c) for b, c in hist if c > 0)
    total = sum(c for _, c in pairs)
    if not total:
        return None
    rank = math.ceil(0.9 * total)
    seen = 0
    for bucket, count in pairs:
        seen += count
        if seen >= rank:
            return bucket
    return pairs[-1][0]  # pragma: no cover - rank <= total


def satisfaction_of(levels: Mapping[int, int], policy: ReportPolicy) -> float | None:
    total = sum(levels.values())
    return ratio(sum(n for s, n in levels.items() if s >= policy.satisfied_min_score), total)


def summary(
    sums: Mapping[str, int],
    hist: Iterable[tuple[float, int]],
    factors: Iterable[tuple[str, int, int]],
    policy: ReportPolicy,
    reached_management: int | None = None,
) -> dict[str, Any]:
    """Every figure of a report from the counters summed over its period (and group).
    ``reached_management``: the complaints whose case climbed to the management rung (the
    complaint pyramid's top layer), when known for this group."""
    s = {c: int(sums.get(c) or 0) for c in COUNTERS}
    factors = list(factors)
    levels = {score: s[f"l{score}"] for score in SCORES}
    answers = sum(levels.values())
    met = {score: s[f"met_l{score}"] for score in SCORES}
    missed = {score: s[f"missed_l{score}"] for score in SCORES}
    complaints, resolved_cohort, quick = s["complaints"], s["resolved_cohort"], s["quick_cohort"]
    slow, unresolved = resolved_cohort - quick, complaints - resolved_cohort
    retained = (
        quick * policy.retention_resolved_quickly
        + slow * policy.retention_resolved
        + unresolved * policy.retention_unresolved
    )
    mean_ms = ratio(s["resolve_ms"], s["timed"])

    def fig(name: str, value: float | None) -> dict[str, Any]:
        return figure(name, value, policy)

    return {
        "answers": answers,
        "answers_by_level": {level.value: levels[level.score] for level in LEVELS},
        "satisfaction_rate": fig("satisfaction_rate", satisfaction_of(levels, policy)),
        "dissatisfaction_rate": fig(
            "dissatisfaction_rate",
            ratio(
                sum(n for sc, n in levels.items() if sc <= policy.dissatisfied_max_score), answers
            ),
        ),
        "surveys_requested": s["requested"],
        "surveys_answered": s["requested_answered"],
        "response_rate": fig("response_rate", ratio(s["requested_answered"], s["requested"])),
        "resolved": s["resolved"],
        **resolution_cycles({c: s[f"resolved_c{c}"] for c in CYCLES}, s["resolved"], policy),
        "resolved_timely": s["timely"],
        # Timely handling counts the cases that breached a clock and are not resolved yet
        # (on the day of their first breach) beside the resolved ones.
        "unresolved_breached": s["unresolved_breached"],
        "timely_measured": s["resolved"] + s["unresolved_breached"],
        "timely_handling_rate": fig(
            "timely_handling_rate", ratio(s["timely"], s["resolved"] + s["unresolved_breached"])
        ),
        "mean_time_to_resolve_seconds": fig(
            "mean_time_to_resolve_seconds", None if mean_ms is None else mean_ms / 1000
        ),
        "p90_time_to_resolve_seconds": fig("p90_time_to_resolve_seconds", p90(hist)),
        "complaints": complaints,
        "reopened": s["reopened"],
        "reopen_rate": fig("reopen_rate", ratio(s["reopened"], complaints)),
        "satisfaction_by_sla": {
            "met": {
                "answers": sum(met.values()),
                "satisfaction_rate": fig("satisfaction_rate", satisfaction_of(met, policy)),
            },
            "missed": {
                "answers": sum(missed.values()),
                "satisfaction_rate": fig("satisfaction_rate", satisfaction_of(missed, policy)),
            },
        },
        "factors": factor_analysis(factors, policy, levels),
        "factor_analysis": documents.factor_bands(
            factors, levels, policy.figures, policy.top_factors
        ),
        "complaint_pyramid": {
            "complaints": complaints,
            "multiplier": policy.silent_multiplier,
            "silent_dissatisfied_estimate": complaints * policy.silent_multiplier,
        },
        "retention": {
            "complaints": complaints,
            "resolved_quickly": quick,
            "resolved_slowly": slow,
            "unresolved": unresolved,
            "rates": {
                "resolved_quickly": policy.retention_resolved_quickly,
                "resolved": policy.retention_resolved,
                "unresolved": policy.retention_unresolved,
            },
            "expected_returning_customers": retained,
            "expected_retention_rate": fig("expected_retention_rate", ratio(retained, complaints)),
        },
        "projection": {
            "churn_by_level": documents.churn_projection(levels, policy.figures),
            "complaint_pyramid": documents.pyramid_projection(
                complaints, reached_management, policy.figures
            ),
            "silent_customers": documents.silent_projection(complaints, policy.figures),
            "return_rates": documents.return_projection(complaints, quick, slow, policy.figures),
        },
        "rejections": rejections(s, complaints),
        "expectation": expectation(s, policy),
        "waits": waits(s),
    }


def trend_point(sums: Mapping[str, int], policy: ReportPolicy) -> dict[str, Any]:
    """The main rates of one trend period: the same values as ``summary`` gives, without the
    figures a trend does not show (a year by day is 365 of them)."""
    s = {c: int(sums.get(c) or 0) for c in COUNTERS}
    levels = {score: s[f"l{score}"] for score in SCORES}
    answers = sum(levels.values())
    dissatisfied = sum(n for sc, n in levels.items() if sc <= policy.dissatisfied_max_score)
    timely_measured = s["resolved"] + s["unresolved_breached"]
    return {
        "answers": answers,
        "answers_by_level": {level.value: levels[level.score] for level in LEVELS},
        "satisfaction_rate": figure("satisfaction_rate", satisfaction_of(levels, policy), policy),
        "dissatisfaction_rate": figure(
            "dissatisfaction_rate", ratio(dissatisfied, answers), policy
        ),
        "response_rate": figure(
            "response_rate", ratio(s["requested_answered"], s["requested"]), policy
        ),
        "timely_handling_rate": figure(
            "timely_handling_rate", ratio(s["timely"], timely_measured), policy
        ),
        "complaints": s["complaints"],
        "resolved": s["resolved"],
        "first_contact_resolution_rate": figure(
            "first_contact_resolution_rate", ratio(s["resolved_c1"], s["resolved"]), policy
        ),
    }


def rejections(s: Mapping[str, int], complaints: int) -> dict[str, Any]:
    """Invalid complaints (outside the company's commitments), by reason, beside the valid."""
    reasons = {r: s[f"rejected_{r}"] for r in (*REJECTION_REASONS, "other")}
    return {
        "rejected": s["rejected"],
        "valid": complaints,
        "rejected_share": ratio(s["rejected"], s["rejected"] + complaints),
        "by_reason": {r: n for r, n in reasons.items() if n or r != "other"},
    }


def expectation(s: Mapping[str, int], policy: ReportPolicy) -> dict[str, Any]:
    """The outcome the customer expected against the kind the resolution gave: how often
    they matched, and the satisfaction of each."""
    same = {score: s[f"same_l{score}"] for score in SCORES}
    other = {score: s[f"other_l{score}"] for score in SCORES}
    compared = s["expected_same"] + s["expected_other"]
    return {
        "resolved_compared": compared,
        "same_kind": s["expected_same"],
        "other_kind": s["expected_other"],
        "same_kind_rate": figure("same_kind_rate", ratio(s["expected_same"], compared), policy),
        "satisfaction": {
            "same_kind": {
                "answers": sum(same.values()),
                "satisfaction_rate": figure("satisfaction_rate", satisfaction_of(same, policy),
                                            policy),
            },
            "other_kind": {
                "answers": sum(other.values()),
                "satisfaction_rate": figure("satisfaction_rate", satisfaction_of(other, policy),
                                            policy),
            },
        },
    }  # fmt: skip


def _wait(count: int, ms: int) -> dict[str, Any]:
    return {
        "complaints": count,
        "total_seconds": ms / 1000,
        "mean_seconds": None if not count else ms / count / 1000,
    }


def waits(s: Mapping[str, int]) -> dict[str, Any]:
    """Time the clocks stood still (pauses) and the customer or the case waited: for contact
    data (until completed) and for a plan's approval. Resolved ones by their resolution day,
    completed contact data by its day; those still waiting by the day they began."""
    return {
        "paused": _wait(s["paused"], s["paused_ms"]) | {"paused_now": s["paused_open"]},
        "approval": _wait(s["approval_waited"], s["approval_wait_ms"])
        | {"waiting_now": s["awaiting_approval"]},
        "contact_data": _wait(s["contact_waited"], s["contact_wait_ms"])
        | {"waiting_now": s["contact_waiting"], "closed_unreachable": s["contact_unreachable"]},
    }


def factor_analysis(
    factors: Iterable[tuple[str, int, int]], policy: ReportPolicy, levels: Mapping[int, int]
) -> dict[str, list[dict[str, Any]]]:
    """The factors most named in low answers (neutral and below: remedial action) and in high
    ones (satisfied and above), each with its share of the answers in that band (answers
    naming it / answers in the band, not of the mentions)."""
    low: dict[str, int] = {}
    high: dict[str, int] = {}
    for name, score, count in factors:
        if score <= policy.low_max_score:
            low[name] = low.get(name, 0) + count
        elif score >= policy.satisfied_min_score:
            high[name] = high.get(name, 0) + count

    low_answers = sum(n for sc, n in levels.items() if sc <= policy.low_max_score)
    high_answers = sum(n for sc, n in levels.items() if sc >= policy.satisfied_min_score)

    def top(counts: dict[str, int], answers: int) -> list[dict[str, Any]]:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: policy.top_factors]
        return [{"factor": f, "count": n, "share": ratio(n, answers)} for f, n in ranked if n > 0]

    return {"low": top(low, low_answers), "high": top(high, high_answers)}


def cycle_label(cycle: int) -> str:
    return f"{cycle}+" if cycle == CYCLES[-1] else str(cycle)


def resolution_cycles(
    by_cycle: Mapping[int, int], resolved: int, policy: ReportPolicy
) -> dict[str, Any]:
    """How many resolution cycles the complaints resolved in the period needed (DOMAIN.md:
    "repeat investigate -> propose -> reply until they are [satisfied]"): first-contact
    resolution is the share resolved in the first, then the second, third and later ones."""
    return {
        "first_contact_resolution_rate": figure(
            "first_contact_resolution_rate", ratio(by_cycle.get(1, 0), resolved), policy
        ),
        "resolved_by_cycle": {
            cycle_label(c): {
                "resolved": by_cycle.get(c, 0),
                "share": ratio(by_cycle.get(c, 0), resolved),
            }
            for c in CYCLES
        },
    }
