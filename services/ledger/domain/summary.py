"""A periodic summary's figures, from the ledger entries of the complaints received in the
period. Pure: the same entries give the same figures (unit-tested on hand-built entries).

- volumes by channel, category and site; valid vs invalid with the rejection reasons;
  general vs major;
- timely handling per clock against its target (100 %): a clock is met when escalation said
  so at resolution and never reported it breached; breached when reported breached (open
  cases that already breached count, not only resolved ones) or resolved late;
- satisfaction against its target (85 %): the latest answer of each complaint, satisfied
  being ``satisfied_min_score`` and above;
- reopen rate: complaints reopened at least once among those resolved at least once;
- top dissatisfaction factors: the share of answers below satisfied that name each factor;
- repeat complainants: customer ids with more than one complaint in the period."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.ledger.domain.entry import LedgerEntry, Status

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Targets:
    timely_handling_rate: float = 1.0
    satisfaction_rate: float = 0.85
    satisfied_min_score: int = 5
    top_factors: int = 5


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _target(value: float | None, target: float) -> dict[str, Any]:
    return {"target": target, "meets_target": None if value is None else value >= target}


def _counts(values: Iterable[str | None]) -> dict[str, int]:
    counted = Counter(v or UNKNOWN for v in values)
    return dict(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))


def clock_outcomes(entry: LedgerEntry) -> dict[str, str]:
    """Each clock the entry was measured on: ``met`` or ``breached``."""
    outcomes = {clock: "met" if met else "breached" for clock, met in entry.clocks_met.items()}
    for clock in entry.breached_clocks:
        outcomes[clock] = "breached"
    return outcomes


def timely(entries: list[LedgerEntry], target: float) -> dict[str, Any]:
    per_clock: dict[str, dict[str, int]] = {}
    measured = on_time = 0
    for entry in entries:
        outcomes = clock_outcomes(entry)
        if not outcomes:
            continue
        measured += 1
        on_time += all(v == "met" for v in outcomes.values())
        for clock, outcome in outcomes.items():
            counts = per_clock.setdefault(clock, {"met": 0, "breached": 0, "open_breached": 0})
            counts[outcome] += 1
            if outcome == "breached" and entry.status == Status.OPEN:
                counts["open_breached"] += 1
    clocks = {}
    for clock, counts in sorted(per_clock.items()):
        total = counts["met"] + counts["breached"]
        rate = ratio(counts["met"], total)
        clocks[clock] = {**counts, "measured": total, "rate": rate, **_target(rate, target)}
    overall = ratio(on_time, measured)
    return {
        "complaints_measured": measured,
        "complaints_on_time": on_time,
        "rate": overall,
        **_target(overall, target),
        "clocks": clocks,
    }


def satisfaction(entries: list[LedgerEntry], targets: Targets) -> dict[str, Any]:
    latest = [a for a in (e.latest_satisfaction for e in entries) if a is not None]
    satisfied = sum(1 for a in latest if a["score"] >= targets.satisfied_min_score)
    rate = ratio(satisfied, len(latest))
    cycles = Counter(len(e.satisfaction) for e in entries if e.satisfaction)
    return {
        "answers": len(latest),
        "satisfied": satisfied,
        "rate": rate,
        **_target(rate, targets.satisfaction_rate),
        "levels": _counts(a["level"] for a in latest),
        "complaints_by_cycles_answered": {str(k): v for k, v in sorted(cycles.items())},
    }


def dissatisfaction_factors(entries: list[LedgerEntry], targets: Targets) -> dict[str, Any]:
    unhappy = [
        a for e in entries for a in e.satisfaction if a["score"] < targets.satisfied_min_score
    ]
    named = Counter(f for a in unhappy for f in set(a["factors"]))
    top = sorted(named.items(), key=lambda kv: (-kv[1], kv[0]))[: targets.top_factors]
    return {
        "answers_below_satisfied": len(unhappy),
        "top": [
            {"factor": f, "answers": n, "share_of_answers": ratio(n, len(unhappy))} for f, n in top
        ],
    }


def repeat_complainants(entries: list[LedgerEntry]) -> dict[str, Any]:
    per_customer = Counter(e.customer_id for e in entries if e.customer_id)
    repeat = sorted(
        ((c, n) for c, n in per_customer.items() if n > 1), key=lambda cn: (-cn[1], cn[0])
    )
    return {
        "customers": len(repeat),
        "complaints": sum(n for _, n in repeat),
        "list": [{"customer_id": c, "complaints": n} for c, n in repeat],
    }


def figures(entries: Iterable[LedgerEntry], targets: Targets) -> dict[str, Any]:
    every = list(entries)
    valid = [e for e in every if e.status != Status.REJECTED]
    invalid = [e for e in every if e.status == Status.REJECTED]
    ever_resolved = [e for e in valid if e.resolved_at is not None or e.reopens > 0]
    reopened = [e for e in ever_resolved if e.reopens > 0]
    return {
        "complaints": len(every),
        "by_channel": _counts(e.channel for e in every),
        "by_category": _counts(e.category for e in every),
        "by_site": _counts(e.site for e in every),
        "validity": {
            "valid": len(valid),
            "invalid": len(invalid),
            "rejection_reasons": _counts(e.rejection_reason for e in invalid),
        },
        "severity": {
            "general": sum(1 for e in valid if e.severity == "general"),
            "major": sum(1 for e in valid if e.severity == "major"),
        },
        "status": _counts(e.status.value for e in every),
        "timely_handling": timely(valid, targets.timely_handling_rate),
        "satisfaction": satisfaction(valid, targets),
        "reopen": {
            "resolved_at_least_once": len(ever_resolved),
            "reopened": len(reopened),
            "rate": ratio(len(reopened), len(ever_resolved)),
        },
        "dissatisfaction_factors": dissatisfaction_factors(valid, targets),
        "repeat_complainants": repeat_complainants(every),
    }
