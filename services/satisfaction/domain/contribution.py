"""A complaint's contribution to the rollups: counters per (day, dimension, value).

The rollups hold the sum of every complaint's contribution. When an event changes what is
known about a complaint, the store adds (after - before): increments only, no rescans, and
the same sums whatever order the events came in."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from services.satisfaction.domain.facts import Facts

SCORES = (6, 5, 4, 3, 2, 1)
# Resolution cycles counted apart; the last one stands for itself and every later one.
CYCLES = (1, 2, 3, 4)

# The outcome a rejection names (intake's RejectionReason); another reason counts as "other".
REJECTION_REASONS = ("out_of_warranty", "not_covered", "in_litigation", "damages_claim")

# Counters of the handling figures (migration 0006_figures_handling), by the day named:
FIGURES_COUNTERS = (
    "unresolved_breached",  # not resolved, an SLA clock already breached (first breach day)
    "rejected",  # invalid complaints recorded that day
    *(f"rejected_{r}" for r in (*REJECTION_REASONS, "other")),  # ... by reason
    "expected_same",  # resolved that day with the kind of outcome the customer expected
    "expected_other",  # ... with another kind
    "paused",  # resolved that day after clocks stood still (a pause)
    "paused_ms",  # ... their paused time, in whole milliseconds
    "paused_open",  # not resolved and paused now (day the pause began)
    "approval_waited",  # resolved that day after a plan waited for approval
    "approval_wait_ms",  # ... the time plans waited, in whole milliseconds
    "awaiting_approval",  # a plan waiting for approval now (day submitted)
    "contact_waited",  # contact data completed that day after the complaint waited for it
    "contact_wait_ms",  # ... the time it waited, in whole milliseconds
    "contact_waiting",  # received that day without contact data, still waiting
    "contact_unreachable",  # closed as unreachable that day: the contact data never came
)

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
    *(f"same_l{s}" for s in SCORES),  # ... resolved with the kind of outcome expected
    *(f"other_l{s}" for s in SCORES),  # ... resolved with another kind
    *FIGURES_COUNTERS,
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
    """Read-only: keys may share their counters' dict."""

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
    if facts.rejected_at is not None and facts.started_at is None:
        # An invalid complaint never had a case: no severity or rung to group it by.
        values.pop("severity", None)
        values.pop("escalation_level", None)
    # Every counter goes to each dimension value alike: summed per day once, then the same
    # (read-only) dict shared by the day's keys of every dimension.
    days: dict[date, dict[str, int]] = {}
    buckets: dict[tuple[date, float], int] = {}
    picked: dict[tuple[date, str, int], int] = {}

    def add(day: date, column: str, amount: int = 1) -> None:
        columns = days.get(day)
        if columns is None:
            columns = days[day] = {}
        columns[column] = columns.get(column, 0) + amount

    _figures(facts, add)
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
            key = (day, resolve_bucket(seconds))
            buckets[key] = buckets.get(key, 0) + 1
    for survey in surveys:
        day = survey.requested_at.date()
        add(day, "requested")
        if survey.answered:
            add(day, "requested_answered")
    sla, expectation = facts.sla, facts.expectation
    for answer in answers:
        day = answer.recorded_at.date()
        add(day, f"l{answer.score}")
        if sla is not None:
            add(day, f"{sla}_l{answer.score}")
        if expectation is not None:
            add(day, f"{expectation}_l{answer.score}")
        for factor in dict.fromkeys(answer.factors):
            fkey = (day, factor, answer.score)
            picked[fkey] = picked.get(fkey, 0) + 1
    pairs = list(values.items())
    return Contribution(
        {(day, d, v): columns for day, columns in days.items() for d, v in pairs},
        {(day, d, v, bucket): n for (day, bucket), n in buckets.items() for d, v in pairs},
        {(day, d, v, f, score): n for (day, f, score), n in picked.items() for d, v in pairs},
    )


def _figures(facts: Facts, add: Callable[[date, str, int], None]) -> None:
    """The handling figures: rejections, open breaches, expectation met, waits."""
    if facts.rejected_at is not None and facts.started_at is None:
        day = facts.rejected_at.date()
        add(day, "rejected", 1)
        reason = facts.rejection_reason if facts.rejection_reason in REJECTION_REASONS else "other"
        add(day, f"rejected_{reason}", 1)
    if facts.started_at is None:
        return
    if not facts.resolved:
        if facts.breached:
            add((facts.first_breach_at or facts.started_at).date(), "unresolved_breached", 1)
        if facts.paused_now:
            add(facts.paused_since.date(), "paused_open", 1)  # type: ignore[union-attr]
        if facts.awaiting_approval_now:
            add(facts.approval_asked_last.date(), "awaiting_approval", 1)  # type: ignore[union-attr]
    else:
        day = facts.resolved_at.date()  # type: ignore[union-attr]
        if facts.expectation is not None:
            add(day, f"expected_{facts.expectation}", 1)
        if facts.paused_total > 0:
            add(day, "paused", 1)
            add(day, "paused_ms", round(facts.paused_total * 1000))
        if facts.approval_wait_total > 0:
            add(day, "approval_waited", 1)
            add(day, "approval_wait_ms", round(facts.approval_wait_total * 1000))
    waited = facts.contact_wait_seconds
    if waited is not None:
        add(facts.contact_completed_at.date(), "contact_waited", 1)  # type: ignore[union-attr]
        add(facts.contact_completed_at.date(), "contact_wait_ms", round(waited * 1000))  # type: ignore[union-attr]
    elif facts.contact_closed_at is not None:
        add(facts.contact_closed_at.date(), "contact_unreachable", 1)
    elif facts.awaiting_contact and facts.contact_completed_at is None:
        add(facts.started_at.date(), "contact_waiting", 1)


_NONE: dict[str, int] = {}


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
    # Keys of one day share their counters' dict (``contribution``): diff each pair once.
    seen: dict[tuple[int, int], dict[str, int]] = {}
    for key in before.counters.keys() | after.counters.keys():
        a, b = before.counters.get(key, _NONE), after.counters.get(key, _NONE)
        change = seen.get((id(a), id(b)))
        if change is None:
            change = seen[(id(a), id(b))] = diff(a, b)
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
