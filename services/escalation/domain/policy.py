"""The escalation policy (DOMAIN.md, "Handling and escalation") as data, and its arithmetic:
where a case starts on the ladder, how long each level has, each clock's target for a tier
and severity, and where the case goes next. Loaded from YAML by ``policy_file``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from services.escalation.domain.authority import Authority
from services.escalation.domain.calendar import ALWAYS, Calendar
from shared.events.common import Mode, Severity, Tier

# The steps of handling that stop a clock, in the order a case normally takes them.
ACTIONS = ("acknowledge", "investigate", "plan", "resolve")


@dataclass(frozen=True)
class ClockRule:
    """An SLA clock: ``met_by`` must happen within ``within`` of counted ``calendar`` time."""

    name: str
    within: timedelta
    met_by: str
    calendar: str = "always"
    escalate: bool = True  # a breach moves the case one level up the ladder


@dataclass(frozen=True)
class ModeRule:
    """How cases of one mode (on site, remote) are handled."""

    start: dict[Severity, str]
    clocks: tuple[ClockRule, ...] = ()
    # The on-site ladder: the time each level has before the case goes up to the next.
    # A level without an entry keeps the case (the ladder stops climbing there).
    climb: dict[str, timedelta] = field(default_factory=dict)
    climb_until: str | None = None  # the action that settles the case and stops the climb


class ClockTarget(NamedTuple):
    """A clock's counted time for one tier and severity, and when its warnings fall."""

    rule: ClockRule
    target: timedelta
    warnings: tuple[tuple[float, timedelta], ...]  # fraction of the target, counted time


@dataclass(frozen=True)
class Policy:
    version: str
    levels: tuple[str, ...]
    # The highest level automatic escalation reaches, by severity (major goes to the top).
    ceiling: dict[Severity, str]
    modes: dict[Mode, ModeRule]
    calendars: dict[str, Calendar] = field(default_factory=lambda: {"always": ALWAYS})
    warn_at: tuple[float, ...] = (0.8,)
    tier_factors: dict[Tier, float] = field(default_factory=dict)
    severity_factors: dict[Severity, float] = field(default_factory=dict)
    # Plan approval, compensation limits, refusing service, pause reminders.
    authority: Authority = field(default_factory=Authority)
    # clock_targets' answers, worked out once per (mode, tier, severity).
    _targets: dict[tuple[Mode, Tier, Severity], tuple[ClockTarget, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def clock_targets(self, mode: Mode, tier: Tier, severity: Severity) -> tuple[ClockTarget, ...]:
        """The clocks of ``mode`` with their targets and warning offsets for this tier and
        severity (every case opened or reopened asks)."""
        key = (mode, tier, severity)
        found = self._targets.get(key)
        if found is None:
            found = self._targets[key] = tuple(
                ClockTarget(rule, target, tuple((f, target * f) for f in self.warn_at))
                for rule in self.modes[mode].clocks
                for target in (self.target(rule.within, tier, severity),)
            )
        return found

    def factor(self, tier: Tier, severity: Severity) -> float:
        """Targets are multiplied by this: below 1 for the tiers and severities served faster."""
        return self.tier_factors.get(tier, 1.0) * self.severity_factors.get(severity, 1.0)

    def target(self, within: timedelta, tier: Tier, severity: Severity) -> timedelta:
        return within * self.factor(tier, severity)

    def calendar(self, name: str) -> Calendar:
        return self.calendars[name]

    def start_level(self, mode: Mode, severity: Severity) -> str:
        return self.modes[mode].start.get(severity, self.levels[0])

    def rank(self, level: str) -> int:
        """Position on the ladder; -1 for a level this policy version does not know."""
        return self.levels.index(level) if level in self.levels else -1

    def next_level(self, level: str, severity: Severity, by_hand: bool = False) -> str | None:
        """The level above ``level``; automatic escalation stops at the severity's ceiling,
        escalation by hand may go to the top."""
        if level not in self.levels:
            return None  # a level of an earlier policy version: the case stays there
        top = len(self.levels) - 1 if by_hand else self.rank(self.ceiling[severity])
        rank = self.rank(level)
        return self.levels[rank + 1] if rank < top else None

    def climb_time(
        self, mode: Mode, level: str, tier: Tier, severity: Severity
    ) -> timedelta | None:
        """How long ``level`` has before an unsettled case goes up; None: it stays there."""
        rule = self.modes[mode]
        if level not in rule.climb or self.next_level(level, severity) is None:
            return None
        return self.target(rule.climb[level], tier, severity)

    def deadline(
        self, clock: ClockRule, start: datetime, tier: Tier, severity: Severity
    ) -> datetime:
        return self.calendar(clock.calendar).add(start, self.target(clock.within, tier, severity))
