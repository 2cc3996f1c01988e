"""The supervisor's overview: open cases per rung and team, breaches today, SLA rates per
clock, satisfaction against its target; bars sized here (the page draws them as SVG, no
inline styles)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

CLOSED = frozenset({"resolved", "suspended", "closed"})
BAR_WIDTH = 240  # px of the longest bar


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    width: int
    good: bool | None = None  # against a target, when there is one


def bars(counts: Iterable[tuple[str, float]], text: str = "{:g}") -> list[Bar]:
    items = list(counts)
    top = max((v for _, v in items), default=0) or 1
    return [Bar(k, v, text.format(v), round(BAR_WIDTH * v / top)) for k, v in items]


def rate_bars(rates: Iterable[dict[str, Any]], target: float | None) -> list[Bar]:
    """Rates 0..1 as bars of the full width at 100 %."""
    out = []
    for r in rates:
        value = r.get("rate")
        if value is None:
            continue
        good = None if target is None else value >= target - 1e-12
        label = f"{r['key']} ({r.get('on_time', 0)}/{r.get('total', 0)})"
        out.append(Bar(label, value, f"{value:.0%}", round(BAR_WIDTH * value), good))
    return out


@dataclass(frozen=True)
class Overview:
    open_cases: int
    per_rung: list[Bar]
    per_team: list[Bar]
    breached_open: int
    breaches_today: int
    sla_per_clock: list[Bar]
    satisfaction: Bar | None
    satisfaction_target: float | None
    complete: bool  # False when there were more cases than one look fetches


def overview(
    cases: list[dict[str, Any]], complete: bool, sla: dict[str, Any] | None,
    satisfaction: dict[str, Any] | None, time_zone: str, now: datetime, ladder: Iterable[str],
) -> Overview:  # fmt: skip
    zone = ZoneInfo(time_zone)
    today: date = now.astimezone(zone).date()
    open_cases = [c for c in cases if c["status"] not in CLOSED]
    rungs = Counter(c["level"] for c in open_cases)
    teams = Counter(c.get("team") or "—" for c in open_cases)
    breaches_today = sum(
        1
        for c in cases
        for clock in c.get("clocks", [])
        if clock.get("breached_at")
        and datetime.fromisoformat(clock["breached_at"]).astimezone(zone).date() == today
    )
    rate = target = None
    if satisfaction is not None:
        figure = satisfaction["overall"]["satisfaction_rate"]
        target = figure.get("target")
        if figure.get("value") is not None:
            value = figure["value"]
            good = None if target is None else value >= target - 1e-12
            rate = Bar("satisfaction", value, f"{value:.0%}", round(BAR_WIDTH * value), good)
    return Overview(
        open_cases=len(open_cases),
        per_rung=bars((r, rungs[r]) for r in ladder if rungs[r]),
        per_team=bars(sorted(teams.items(), key=lambda kv: -kv[1])),
        breached_open=sum(1 for c in open_cases if c.get("breached")),
        breaches_today=breaches_today,
        sla_per_clock=rate_bars((sla or {}).get("per_clock", []), 1.0),
        satisfaction=rate,
        satisfaction_target=target,
        complete=complete,
    )
