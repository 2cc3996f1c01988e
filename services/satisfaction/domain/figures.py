"""The figures of the source documents applied to the data (DOMAIN.md, "Why it matters" and
"Satisfaction"): churn by satisfaction level, the complaint pyramid, silent customers per
complaint, return rates by how the problem went, and the factor analysis of what brings
customers back and what drives them away, per tier. Every number comes from the figures file
(``policies/figures.yaml``, ``SATISFACTION_FIGURES_FILE``) and is reported with its source.
Pure: unit tested on hand-computed examples."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.satisfaction.domain.levels import LEVELS
from shared.config_files import At, load_yaml_model

BUNDLED_FIGURES = Path(__file__).resolve().parent.parent / "policies" / "figures.yaml"
LEVEL_NAMES = tuple(level.value for level in LEVELS)
Rate = Field(ge=0, le=1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChurnByLevel(_Strict):
    source: str
    rates: dict[str, float]


class PyramidSplit(_Strict):
    never_complained: float = Rate
    frontline_only: float = Rate
    management: float = Rate


class ComplaintPyramid(_Strict):
    source: str
    split: PyramidSplit
    management_from_level: str


class SilentPerComplaint(_Strict):
    source: str
    value: float = Field(ge=0)


class ReturnRatesBlock(_Strict):
    source: str
    rates: dict[str, float]


class FactorBands(_Strict):
    source: str
    bring_back: list[str]
    drive_away: list[str]


class FiguresPolicy(_Strict):
    version: str
    churn_by_level: ChurnByLevel
    complaint_pyramid: ComplaintPyramid
    silent_per_complaint: SilentPerComplaint
    return_rates: ReturnRatesBlock
    factor_bands: FactorBands
    tier_order: list[str] = ["VIP", "A", "B", "C", "D"]

    def return_rate(self, name: str) -> float:
        return self.return_rates.rates[name]

    def scores(self, names: Iterable[str]) -> frozenset[int]:
        return frozenset(6 - LEVEL_NAMES.index(n) for n in names)


RETURN_GROUPS = ("not_complained", "unresolved", "resolved", "resolved_quickly")


def _checks(policy: FiguresPolicy) -> None:
    """What the types cannot say: every level has a churn rate, rates are shares, the bands
    name known levels and do not overlap."""
    for name in LEVEL_NAMES:
        if name not in policy.churn_by_level.rates:
            raise At(("churn_by_level", "rates"), f"names no rate for {name}")
    for name, rate in policy.churn_by_level.rates.items():
        if name not in LEVEL_NAMES:
            raise At(("churn_by_level", "rates", name), f"unknown level (one of {LEVEL_NAMES})")
        if not 0 <= rate <= 1:
            raise At(("churn_by_level", "rates", name), "a rate is 0..1")
    for name in RETURN_GROUPS:
        if name not in policy.return_rates.rates:
            raise At(("return_rates", "rates"), f"names no rate for {name}")
    for name, rate in policy.return_rates.rates.items():
        if name not in RETURN_GROUPS:
            raise At(("return_rates", "rates", name), f"unknown group (one of {RETURN_GROUPS})")
        if not 0 <= rate <= 1:
            raise At(("return_rates", "rates", name), "a rate is 0..1")
    split = policy.complaint_pyramid.split
    if abs(split.never_complained + split.frontline_only + split.management - 1) > 0.001:
        raise At(("complaint_pyramid", "split"), "the three layers must add up to 1")
    for band in ("bring_back", "drive_away"):
        for i, name in enumerate(getattr(policy.factor_bands, band)):
            if name not in LEVEL_NAMES:
                raise At(("factor_bands", band, i), f"unknown level (one of {LEVEL_NAMES})")
    both = set(policy.factor_bands.bring_back) & set(policy.factor_bands.drive_away)
    if both:
        raise At(("factor_bands", "drive_away"), f"also in bring_back: {sorted(both)}")


def load_figures(path: Path | None = None) -> FiguresPolicy:
    """Read and check a figures file; a bad one raises ConfigError naming the line."""
    return load_yaml_model(path or BUNDLED_FIGURES, FiguresPolicy, _checks, what="figures file")


def _ratio(part: float, whole: float) -> float | None:
    return None if not whole else part / whole


def churn_projection(levels: Mapping[int, int], policy: FiguresPolicy) -> dict[str, Any]:
    """Churn by satisfaction level applied to the answers: each level's answers times its
    churn rate are the customers expected to be lost."""
    rows = []
    for level in LEVELS:
        answers = levels.get(level.score, 0)
        rate = policy.churn_by_level.rates[level.value]
        rows.append(
            {"level": level.value, "answers": answers, "churn_rate": rate,
             "expected_lost": answers * rate}
        )  # fmt: skip
    answers = sum(r["answers"] for r in rows)
    lost = sum(r["expected_lost"] for r in rows)
    return {
        "source": policy.churn_by_level.source,
        "answers": answers,
        "levels": rows,
        "expected_lost": lost,
        "expected_churn_rate": _ratio(lost, answers),
        "expected_kept": answers - lost,
    }


def pyramid_projection(
    complaints: int, reached_management: int | None, policy: FiguresPolicy
) -> dict[str, Any]:
    """The complaint pyramid: the platform's complaints are its two upper layers (told the
    frontline, reached management); the silent layer is estimated from them by the split.
    ``reached_management``: complaints whose case climbed to the management rung (None when
    not known for this group)."""
    split = policy.complaint_pyramid.split
    spoke = split.frontline_only + split.management
    return {
        "source": policy.complaint_pyramid.source,
        "split": split.model_dump(),
        "management_from_level": policy.complaint_pyramid.management_from_level,
        "complaints": complaints,
        "reached_management": reached_management,
        "frontline_only": None if reached_management is None else complaints - reached_management,
        "observed_management_share": None
        if reached_management is None
        else _ratio(reached_management, complaints),
        "expected_management_share": _ratio(split.management, spoke),
        "estimated_never_complained": complaints * split.never_complained / spoke
        if spoke
        else None,
    }


def silent_projection(complaints: int, policy: FiguresPolicy) -> dict[str, Any]:
    per = policy.silent_per_complaint.value
    return {
        "source": policy.silent_per_complaint.source,
        "per_complaint": per,
        "complaints": complaints,
        "estimated_silent_customers": complaints * per,
    }


def return_projection(
    complaints: int, quick: int, slow: int, policy: FiguresPolicy
) -> dict[str, Any]:
    """Customers expected to return, by how their problem went: the silent ones (per
    complaint) at the rate of those who did not complain, then the complaints unresolved,
    resolved, and resolved quickly (every SLA clock met)."""
    unresolved = complaints - quick - slow
    silent = complaints * policy.silent_per_complaint.value
    counts = {
        "not_complained": silent,
        "unresolved": unresolved,
        "resolved": slow,
        "resolved_quickly": quick,
    }
    groups = [
        {"group": name, "customers": counts[name], "return_rate": policy.return_rate(name),
         "expected_returning": counts[name] * policy.return_rate(name)}
        for name in RETURN_GROUPS
    ]  # fmt: skip
    complained = sum(g["expected_returning"] for g in groups if g["group"] != "not_complained")
    return {
        "source": policy.return_rates.source,
        "quickly": "resolved with every SLA clock met",
        "groups": groups,
        "complainants_expected_returning": complained,
        "complainant_return_rate": _ratio(complained, complaints),
        "expected_returning": sum(g["expected_returning"] for g in groups),
    }


def factor_bands(
    factors: Iterable[tuple[str, int, int]],
    levels: Mapping[int, int],
    policy: FiguresPolicy,
    top: int,
) -> dict[str, Any]:
    """The factors named by customers who will come back (``bring_back`` levels) and by
    those who will leave (``drive_away``), each as its share of the answers in the band:
    answers naming it / answers in the band (an answer names a factor once)."""
    bands = {
        "drive_away": policy.scores(policy.factor_bands.drive_away),
        "bring_back": policy.scores(policy.factor_bands.bring_back),
    }
    out: dict[str, Any] = {"source": policy.factor_bands.source}
    rows = list(factors)
    for band, scores in bands.items():
        answers = sum(n for s, n in levels.items() if s in scores)
        named: dict[str, int] = {}
        for name, score, count in rows:
            if score in scores:
                named[name] = named.get(name, 0) + count
        ranked = sorted(((f, n) for f, n in named.items() if n > 0), key=lambda kv: (-kv[1], kv[0]))
        out[band] = {
            "levels": [lv for lv in LEVEL_NAMES if 6 - LEVEL_NAMES.index(lv) in scores],
            "answers": answers,
            "factors": [
                {"factor": f, "answers": n, "share_of_answers": _ratio(n, answers)}
                for f, n in ranked[:top]
            ],
        }
    return out


def tier_key(tier: str, policy: FiguresPolicy) -> tuple[int, str]:
    """Tiers in the policy's order (the most valuable first), others after, by name."""
    order = policy.tier_order
    return (order.index(tier) if tier in order else len(order), tier)
