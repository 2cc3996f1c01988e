"""The follow-up policy (YAML) and its arithmetic: when a call-back falls due, when it is
overdue, when to try again after an unanswered call. Pure: no I/O besides ``load_policy``."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.config_files import load_yaml_model
from shared.durations import parse_duration
from shared.events.activity import ActivityKind
from shared.events.common import Severity, Tier

BUNDLED_POLICY = Path(__file__).resolve().parent.parent / "policy.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CallbackRules(_Strict):
    after_resolution: timedelta
    tier_factors: dict[Tier, float] = {}
    major_factor: float = Field(default=1.0, gt=0)
    remedial_after: timedelta
    overdue_after: timedelta
    reschedule_max_ahead: timedelta = timedelta(days=60)

    _durations = field_validator(
        "after_resolution", "remedial_after", "overdue_after", "reschedule_max_ahead", mode="before"
    )(parse_duration)

    @field_validator("tier_factors")
    @classmethod
    def _positive(cls, factors: dict[Tier, float]) -> dict[Tier, float]:
        for tier, factor in factors.items():
            if factor <= 0:
                raise ValueError(f"the factor of tier {tier} must be positive")
        return factors

    @model_validator(mode="after")
    def _remedial_sooner(self) -> CallbackRules:
        if self.remedial_after >= self.after_resolution:
            raise ValueError("remedial_after must be shorter than after_resolution")
        return self


class AttemptRules(_Strict):
    max: int = Field(ge=1, le=20)
    spacing: tuple[timedelta, ...] = Field(min_length=1)

    @field_validator("spacing", mode="before")
    @classmethod
    def _durations(cls, values: object) -> tuple[timedelta, ...]:
        if not isinstance(values, list | tuple):
            values = [values]
        return tuple(parse_duration(v) for v in values)


class TierThresholds(_Strict):
    """Fewest visits a month for each tier."""

    A: int = Field(default=11, ge=1)
    B: int = Field(default=6, ge=1)
    C: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> TierThresholds:
        if not self.A > self.B > self.C:
            raise ValueError("tier thresholds must fall from A to C (A > B > C)")
        return self


class RetentionRules(_Strict):
    tiers: TierThresholds = TierThresholds()
    timezone: str = "UTC"
    review_grace: timedelta = timedelta(days=1)
    after_drop: timedelta = timedelta(days=1)
    # A drop found in a month that ended longer ago than this (a backfilled history) is
    # recorded, not called about.
    call_within: timedelta = timedelta(days=45)

    _durations = field_validator("review_grace", "after_drop", "call_within", mode="before")(
        parse_duration
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _optional_duration(value: object) -> timedelta | None:
    return None if value is None else parse_duration(value)


class AfterActivityRules(_Strict):
    """Calls about a customer's purchases and exchanges (DOMAIN.md: "a retailer called 3 days
    after a sale, and again after an exchange"). A kind set to null gets no call."""

    purchase: timedelta | None = timedelta(days=3)
    exchange: timedelta | None = timedelta(days=3)
    # Activity that arrives longer than this after it happened (a backfilled history) is
    # counted for the tiers but not called about.
    call_within: timedelta = timedelta(days=7)

    _durations = field_validator("purchase", "exchange", mode="before")(_optional_duration)
    _window = field_validator("call_within", mode="before")(parse_duration)


class FollowupPolicy(_Strict):
    version: str
    callback: CallbackRules
    attempts: AttemptRules
    retention: RetentionRules = RetentionRules()
    after_activity: AfterActivityRules = AfterActivityRules()

    def tier_factor(self, tier: Tier) -> float:
        return self.callback.tier_factors.get(tier, 1.0)


def load_policy(path: Path | None = None) -> FollowupPolicy:
    """Read and validate a policy file; a bad one raises ConfigError naming the line."""
    return load_yaml_model(path or BUNDLED_POLICY, FollowupPolicy, what="policy")


def resolution_due(
    resolved_at: datetime, tier: Tier, severity: Severity, policy: FollowupPolicy
) -> datetime:
    """When to call back after a case is resolved: VIP and major sooner (factors multiply)."""
    factor = policy.tier_factor(tier)
    if severity == Severity.MAJOR:
        factor *= policy.callback.major_factor
    return resolved_at + policy.callback.after_resolution * factor


def remedial_due(recorded_at: datetime, tier: Tier, policy: FollowupPolicy) -> datetime:
    """After a survey answered neutral or below; the policy guarantees it is sooner."""
    return recorded_at + policy.callback.remedial_after * policy.tier_factor(tier)


def retention_due(dropped_at: datetime, from_tier: Tier, policy: FollowupPolicy) -> datetime:
    return dropped_at + policy.retention.after_drop * policy.tier_factor(from_tier)


def after_activity_due(
    kind: ActivityKind, at: datetime, received: datetime, policy: FollowupPolicy
) -> datetime | None:
    """When to call about a purchase or an exchange made at ``at`` (and heard of at
    ``received``): the policy's days after it, at once if that time has passed; None: no
    call (a visit, a kind the policy does not call about, or activity too old to call about).
    Tier factors do not apply: the delay lets the customer use what they bought."""
    rules = policy.after_activity
    delay = {ActivityKind.PURCHASE: rules.purchase, ActivityKind.EXCHANGE: rules.exchange}.get(kind)
    if delay is None or received - at > rules.call_within:
        return None
    return max(at + delay, received)


def overdue_at(due_at: datetime, policy: FollowupPolicy) -> datetime:
    return due_at + policy.callback.overdue_after


def spacing_after(failed_attempts: int, policy: FollowupPolicy) -> timedelta:
    """The wait after the ``failed_attempts``-th unanswered call; the last spacing repeats."""
    spacing = policy.attempts.spacing
    return spacing[min(failed_attempts, len(spacing)) - 1]


def next_attempt_at(now: datetime, failed_attempts: int, policy: FollowupPolicy) -> datetime | None:
    """When to call again after ``failed_attempts`` unanswered calls, or None: that was the
    last attempt and the customer is unreachable."""
    if failed_attempts < 1:
        raise ValueError("failed_attempts counts calls made, so it is at least 1")
    if failed_attempts >= policy.attempts.max:
        return None
    return now + spacing_after(failed_attempts, policy)


def reschedule_problem(now: datetime, wanted: datetime, policy: FollowupPolicy) -> str | None:
    """Why ``wanted`` is not an acceptable new call time, or None."""
    if wanted.tzinfo is None:
        return "needs a time zone (e.g. 2026-11-24T10:00:00+08:00)"
    if wanted <= now:
        return "must be in the future"
    if wanted - now > policy.callback.reschedule_max_ahead:
        return f"must be within {policy.callback.reschedule_max_ahead.days} days"
    return None
