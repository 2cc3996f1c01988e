"""A complaint's contribution to the rollups: counters per (day, dimension, value).

The rollups hold the sum of every complaint's contribution. When an event changes what is
known about a complaint, the store adds (after - before): increments only, no rescans, and
the same sums whatever order the events came in."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from services.satisfaction.domain.facts import Facts

SCORES = (6, 5, 4, 3, 2, 1)
# Resolution cycles counted apart; the last one stands for itself and every later one.
CYCLES = (1, 2, 3, 4)

# Rollup counter columns. Cohorts: complaints by the day they were received; resolutions by
# the day of the (last) resolution; survey requests by the day asked; answers by the day given.
COUNTERS = (
    "complaints",  # received that day
    "reopened",  # ... and reopened at least once
    "resolved_cohort",  # ... and resolved now
    "quick_cohort",  # ... and resolved with every SLA clock met
    "resolved",  # resolved that day
    "timely",  # ... with every SLA clock met
    "timed",  # ... with a known time to resolve
    "resolve_ms",  # ... sum of their times to resolve, in whole milliseconds (exact sums)
    *(f"resolved_c{c}" for c in CYCLES),  # ... in their 1st, 2nd, 3rd, 4th-or-later cycle
    "requested",  # surveys requested that day
    "requested_answered",  # ... and answered
    *(f"l{s}" for s in SCORES),  # answers given that day, by score
    *(f"met_l{s}" for s in SCORES),  # ... for complaints handled within every SLA clock
    *(f"missed_l{s}" for s in SCORES),  # ... for complaints that missed one
)

RollupKey = tuple[date, str, str]  # day, dimension, value
HistKey = tuple[date, str, str, float]  # ... and time-to-resolve bucket (seconds)
FactorKey = tuple[date, str, str, str, int]  # ... factor, score


@dataclass(frozen=True)
class Survey:
    survey_id: str
    requested_at: datetime
    answered: bool


@dataclass(frozen=True)
class Answer:
    answer_id: str
    score: int
    factors: tuple[str, ...]
    recorded_at: datetime
    tier: str | None = None


@dataclass
class Contribution:
    counters: dict[RollupKey, dict[str, int]]
    hist: dict[HistKey, int]
    factors: dict[FactorKey, int]

    @classmethod
    def empty(cls) -> Contribution:
        return cls({}, {}, {})


def cycle_column(cycles: int) -> int:
    return min(max(cycles, 1), CYCLES[-1])


def resolve_bucket(seconds: float) -> float:
    """Times to resolve are kept to two significant figures: exact below 10 s, within 5 %
    above, and few enough distinct buckets that a year of p90s sums quickly."""
    if seconds <= 0:
        return 0.0
    return float(f"{seconds:.2g}")


def contribution(
    facts: Facts, surveys: Iterable[Survey], answers: Iterable[Answer]
) -> Contribution:
    answers = list(answers)
    values = facts.dimension_values()
    if facts.tier is None:
        tiers = sorted({a.tier for a in answers if a.tier})
        if tiers:
            values["tier"] = tiers[0]
    counters: dict[RollupKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    hist: dict[HistKey, int] = defaultdict(int)
    factors: dict[FactorKey, int] = defaultdict(int)

    def add(day: date, column: str, amount: int = 1) -> None:
        for dimension, value in values.items():
            counters[(day, dimension, value)][column] += amount

    started = facts.started_at
    if started is not None:
        day = started.date()
        add(day, "complaints")
        if facts.reopens:
            add(day, "reopened")
        if facts.resolved:
            add(day, "resolved_cohort")
            if facts.sla == "met":
                add(day, "quick_cohort")
    if facts.resolved:
        day = facts.resolved_at.date()  # type: ignore[union-attr]
        add(day, "resolved")
        if facts.sla == "met":
            add(day, "timely")
        add(day, f"resolved_c{cycle_column(facts.cycles)}")
        seconds = facts.seconds_to_resolve
        if seconds is not None:
            add(day, "timed")
            add(day, "resolve_ms", round(seconds * 1000))
            for dimension, value in values.items():
                hist[(day, dimension, value, resolve_bucket(seconds))] += 1
    for survey in surveys:
        day = survey.requested_at.date()
        add(day, "requested")
        if survey.answered:
            add(day, "requested_answered")
    sla = facts.sla
    for answer in answers:
        day = answer.recorded_at.date()
        add(day, f"l{answer.score}")
        if sla is not None:
            add(day, f"{sla}_l{answer.score}")
        for factor in dict.fromkeys(answer.factors):
            for dimension, value in values.items():
                factors[(day, dimension, value, factor, answer.score)] += 1
    return Contribution({k: dict(v) for k, v in counters.items()}, dict(hist), dict(factors))


def delta(before: Contribution, after: Contribution) -> Contribution:
    """after - before, without the entries that did not change."""

    def diff(a: dict, b: dict) -> dict:
        out = {}
        for key in a.keys() | b.keys():
            change = b.get(key, 0) - a.get(key, 0)
            if change:
                out[key] = change
        return out

    counters: dict[RollupKey, dict[str, int]] = {}
    for key in before.counters.keys() | after.counters.keys():
        change = diff(before.counters.get(key, {}), after.counters.get(key, {}))
        if change:
            counters[key] = change
    return Contribution(
        counters, diff(before.hist, after.hist), diff(before.factors, after.factors)
    )


def merge(parts: Iterable[Contribution]) -> Contribution:
    """The sum of several changes (a batch of complaints), without the zeros."""
    counters: dict[RollupKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    hist: dict[HistKey, int] = defaultdict(int)
    factors: dict[FactorKey, int] = defaultdict(int)
    for part in parts:
        for key, values in part.counters.items():
            for column, n in values.items():
                counters[key][column] += n
        for key, n in part.hist.items():
            hist[key] += n
        for key, n in part.factors.items():
            factors[key] += n
    return delta(
        Contribution.empty(),
        Contribution({k: dict(v) for k, v in counters.items()}, dict(hist), dict(factors)),
    )
