"""Reading the policy YAML (``ESCALATION_POLICY_FILE``; the bundled default implements
DOMAIN.md). Everything is checked at start-up: a bad file raises ``PolicyError`` naming the
file, the line and the problem, and the service does not start."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as official
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.escalation.domain.authority import (
    Authority,
    CompensationLimits,
    PauseReminder,
    PlanApprovalRule,
)
from services.escalation.domain.calendar import ALWAYS, Calendar, Interval
from services.escalation.domain.policy import ACTIONS, ClockRule, ModeRule, Policy
from shared.config_files import At, ConfigError, load_yaml_model, parse_yaml_model
from shared.directory import StaffRole
from shared.durations import parse_duration
from shared.events.common import Mode, Severity, Tier

DEFAULT_POLICY = Path(__file__).parent / "policies" / "default.yaml"

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


PolicyError = ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Clock(_Strict):
    within: Any
    met_by: str
    calendar: str = "always"
    escalate: bool = True

    @field_validator("within")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("met_by")
    @classmethod
    def _action(cls, value: str) -> str:
        if value not in ACTIONS:
            raise ValueError(f"unknown action {value!r}; one of {', '.join(ACTIONS)}")
        return value


class _Mode(_Strict):
    start: dict[Severity, str]
    clocks: dict[str, _Clock] = {}
    climb: dict[str, Any] = {}
    climb_until: str | None = None

    @field_validator("climb")
    @classmethod
    def _durations(cls, value: dict[str, Any]) -> dict[str, timedelta]:
        return {level: parse_duration(d) for level, d in value.items()}

    @field_validator("climb_until")
    @classmethod
    def _action(cls, value: str | None) -> str | None:
        if value is not None and value not in ACTIONS:
            raise ValueError(f"unknown action {value!r}; one of {', '.join(ACTIONS)}")
        return value


class _Calendar(_Strict):
    time_zone: str
    hours: dict[str, list[str]]
    holidays: list[date] = []
    # Make-up working days (a weekend day worked to bridge a public holiday): open with the
    # hours of ``workday_hours``, a weekday name.
    workdays: list[date] = []
    # Public holidays and make-up days of a country (ISO 3166 code, e.g. CN) from the
    # python-holidays library, for ``years`` (default: last year to two years ahead, as of
    # start-up). Dates listed above are added to them.
    country: str | None = None
    subdivision: str | None = None
    years: list[int] = []
    workday_hours: str = "mon"

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is not None and value not in official.list_supported_countries():
            raise ValueError(f"no public holidays known for country {value!r}")
        return value

    @field_validator("years")
    @classmethod
    def _years(cls, value: list[int]) -> list[int]:
        for year in value:
            if not 1970 <= year <= 2100:
                raise ValueError(f"year {year} is out of range (1970..2100)")
        return value

    @field_validator("workday_hours")
    @classmethod
    def _workday_hours(cls, value: str, info: ValidationInfo) -> str:
        if value not in _DAYS:
            raise ValueError(f"unknown day {value!r}; one of {', '.join(_DAYS)}")
        uses = info.data.get("workdays") or info.data.get("country")
        if uses and not info.data.get("hours", {}).get(value):
            raise ValueError(f"{value} has no opening hours for make-up working days")
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> _Calendar:
        both = sorted(set(self.workdays) & set(self.holidays))
        if both:
            raise ValueError(f"{both[0]} is listed both as a holiday and as a working day")
        return self

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in _DAYS:
                raise ValueError(f"unknown day {day!r}; one of {', '.join(_DAYS)}")
            intervals = [_interval(span) for span in spans]
            ends = [(s.hour * 60 + s.minute, 1440 if e is None else e.hour * 60 + e.minute)
                    for s, e in intervals]  # fmt: skip
            for (_, end), (start, _) in zip(sorted(ends), sorted(ends)[1:], strict=False):
                if start < end:
                    raise ValueError(f"{day}: opening hours overlap")
        if not any(value.values()):
            raise ValueError("a business calendar needs opening hours on at least one day")
        return value


class _Factors(_Strict):
    tier: dict[Tier, float] = {}
    severity: dict[Severity, float] = {}

    @field_validator("tier", "severity")
    @classmethod
    def _positive(cls, value: dict[Any, float]) -> dict[Any, float]:
        for key, factor in value.items():
            if factor <= 0:
                raise ValueError(f"the factor of {key} must be above 0")
        return value


class _PlanApproval(_Strict):
    by: StaffRole
    within: Any
    calendar: str = "always"
    escalate: bool = True

    @field_validator("within")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


class _Compensation(_Strict):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    # The most each role may grant on its own; null: no limit.
    limits: dict[StaffRole, Decimal | None]

    @field_validator("limits")
    @classmethod
    def _rising(cls, value: dict[StaffRole, Decimal | None]) -> dict[StaffRole, Decimal | None]:
        ordered = [value[r] for r in StaffRole if r in value]
        for amount in ordered:
            if amount is not None and amount < 0:
                raise ValueError("a limit is 0 or more")
        for low, high in pairwise(ordered):
            unlimited_below = low is None and high is not None
            if unlimited_below or (low is not None and high is not None and high < low):
                raise ValueError("a higher role's limit cannot be below a lower role's")
        return value


class _Approvals(_Strict):
    plan: dict[Severity, _PlanApproval] = {}
    compensation: _Compensation | None = None
    refuse_service_by: StaffRole = StaffRole.SUPERVISOR


class _PauseReminder(_Strict):
    after: Any
    calendar: str = "always"

    @field_validator("after")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        found = parse_duration(value)
        if found <= timedelta(0):
            raise ValueError("must be above 0")
        return found


class _PolicyFile(_Strict):
    version: str = Field(min_length=1)
    levels: list[str] = Field(min_length=1)
    ceiling: dict[Severity, str]
    warn_at: list[float] = [0.8]
    factors: _Factors = _Factors()
    calendars: dict[str, _Calendar] = {}
    modes: dict[Mode, _Mode]
    approvals: _Approvals = _Approvals()
    pause_reminder: _PauseReminder | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("warn_at")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        for fraction in value:
            if not 0 < fraction < 1:
                raise ValueError(f"a warning fraction is between 0 and 1, not {fraction}")
        return sorted(set(value))


def _interval(span: str) -> Interval:
    found = _HOURS.match(span.strip())
    if not found:
        raise ValueError(f"{span!r} is not like 09:00-18:00")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(f"{span!r} is not a time range")
    start, end = time(h1, m1), None if h2 == 24 else time(h2, m2)
    if end is not None and end <= start:
        raise ValueError(f"{span!r} ends before it starts")
    return start, end


def _cross_checks(raw: _PolicyFile) -> None:
    """References between sections; raises ``At(path, message)``."""
    levels = raw.levels
    if len(set(levels)) != len(levels):
        raise At(("levels",), "a level is listed twice")
    for severity in Severity:
        if severity not in raw.ceiling:
            raise At(("ceiling",), f"no ceiling for severity {severity.value!r}")
    for severity, level in raw.ceiling.items():
        if level not in levels:
            raise At(("ceiling", severity.value), f"unknown level {level!r}")
    for mode in Mode:
        if mode not in raw.modes:
            raise At(("modes",), f"no rules for mode {mode.value!r}")
    for mode, rule in raw.modes.items():
        where = ("modes", mode.value)
        for severity, level in rule.start.items():
            if level not in levels:
                raise At((*where, "start", severity.value), f"unknown level {level!r}")
        for level in rule.climb:
            if level not in levels:
                raise At((*where, "climb", level), f"unknown level {level!r}")
        for name, clock in rule.clocks.items():
            if clock.calendar != "always" and clock.calendar not in raw.calendars:
                raise At((*where, "clocks", name, "calendar"),
                          f"unknown calendar {clock.calendar!r}")  # fmt: skip
        until = rule.climb_until
        met = {c.met_by for c in rule.clocks.values()} | {"resolve"}
        if rule.climb and until is not None and until not in met:
            raise At((*where, "climb_until"), f"no clock is met by {until!r}")
    calendars = {"always", *raw.calendars}
    for severity, approval in raw.approvals.plan.items():
        if approval.calendar not in calendars:
            raise At(("approvals", "plan", severity.value, "calendar"),
                     f"unknown calendar {approval.calendar!r}")  # fmt: skip
        if approval.within <= timedelta(0):
            raise At(("approvals", "plan", severity.value, "within"), "must be above 0")
    if raw.pause_reminder is not None and raw.pause_reminder.calendar not in calendars:
        raise At(("pause_reminder", "calendar"),
                 f"unknown calendar {raw.pause_reminder.calendar!r}")  # fmt: skip


def _to_policy(raw: _PolicyFile) -> Policy:
    calendars = {"always": ALWAYS}
    for name, cal in raw.calendars.items():
        hours = {
            _DAYS.index(d): tuple(sorted(_interval(s) for s in spans))
            for d, spans in cal.hours.items()
        }
        public, made_up = _official_days(cal)
        calendars[name] = Calendar(
            name=name,
            time_zone=cal.time_zone,
            hours=hours,
            holidays=frozenset(cal.holidays) | (public - set(cal.workdays)),
            workdays=frozenset(cal.workdays) | (made_up - set(cal.holidays)),
            workday_hours=hours.get(_DAYS.index(cal.workday_hours), ()),
        )
    modes = {
        mode: ModeRule(
            start=dict(rule.start),
            clocks=tuple(
                ClockRule(n, c.within, c.met_by, c.calendar, c.escalate)
                for n, c in rule.clocks.items()
            ),
            climb=dict(rule.climb),
            climb_until=rule.climb_until,
        )
        for mode, rule in raw.modes.items()
    }
    return Policy(
        version=raw.version,
        levels=tuple(raw.levels),
        ceiling=dict(raw.ceiling),
        modes=modes,
        calendars=calendars,
        warn_at=tuple(raw.warn_at),
        tier_factors=dict(raw.factors.tier),
        severity_factors=dict(raw.factors.severity),
        authority=_authority(raw),
    )


def _authority(raw: _PolicyFile) -> Authority:
    approvals, money = raw.approvals, raw.approvals.compensation
    reminder = raw.pause_reminder
    return Authority(
        plan_approval={
            severity: PlanApprovalRule(a.by, a.within, a.calendar, a.escalate)
            for severity, a in approvals.plan.items()
        },
        compensation=CompensationLimits(money.currency, dict(money.limits))
        if money is not None
        else CompensationLimits(),
        refuse_service_by=approvals.refuse_service_by,
        pause_reminder=PauseReminder(reminder.after, reminder.calendar) if reminder else None,
    )


def _official_days(cal: _Calendar) -> tuple[set[date], set[date]]:
    """A country's public holidays and make-up working days, from python-holidays."""
    if cal.country is None:
        return set(), set()
    this_year = datetime.now(UTC).year
    years = cal.years or list(range(this_year - 1, this_year + 3))
    found = official.country_holidays(cal.country, subdiv=cal.subdivision, years=years)
    return set(found), set(getattr(found, "weekend_workdays", ()))


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """The policy in ``text``; ``PolicyError("<source> line N: <where>: <problem>")``."""
    return _to_policy(parse_yaml_model(text, _PolicyFile, source, _cross_checks, "policy"))


def load_policy(path: str | Path | None) -> Policy:
    raw = load_yaml_model(
        Path(path) if path else DEFAULT_POLICY, _PolicyFile, _cross_checks, "policy"
    )
    return _to_policy(raw)
