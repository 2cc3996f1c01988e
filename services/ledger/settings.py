"""Ledger configuration (env prefix ``LEDGER_``). Targets and clocks are the defaults of
DOMAIN.md that a deployment changes here, not in code."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.ledger.domain.periods import SiteClock
from services.ledger.domain.review import BUNDLED_TAXONOMY
from services.ledger.domain.summary import Targets
from shared.durations import parse_duration
from shared.events.ledger import SummaryPeriod
from shared.settings import OffPathSettings


class LedgerSettings(OffPathSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore", populate_by_name=True)

    service_name: str = "ledger"
    port: int = 8006
    # The site's time zone: months, weeks, quarters end at its midnight.
    time_zone: str = "Asia/Shanghai"
    # Summaries produced on schedule (each run schedules the next).
    summary_schedules: list[SummaryPeriod] = [
        SummaryPeriod.WEEK,
        SummaryPeriod.QUARTER,
        SummaryPeriod.HALF_YEAR,
    ]
    month_end_flags: bool = True
    # Targets (DOMAIN.md: timely-handling 100 %, handling satisfaction >= 85 %).
    target_timely_handling_rate: float = Field(default=1.0, ge=0, le=1)
    target_satisfaction_rate: float = Field(default=0.85, ge=0, le=1)
    satisfied_min_score: int = Field(default=5, ge=1, le=6)
    top_factors: int = Field(default=5, ge=1)
    # Reviews: the root-cause taxonomy, the report-back clock, the action reminder.
    taxonomy_file: Path = BUNDLED_TAXONOMY
    review_report_within: timedelta = timedelta(days=3)
    action_reminder_before: timedelta = timedelta(days=1)
    # Largest page of GET /ledger, and of a download (CSV, XLSX, print).
    max_page: int = Field(default=500, ge=1)
    max_export_rows: int = Field(default=100_000, ge=1)
    # Tests and demos only: the calendar instant the ledger's clock shows at the wall time
    # ``clock_wall_start`` (default: when the process starts), and how much faster than the
    # wall clock it runs. Unset: the wall clock.
    clock_anchor: datetime | None = None
    clock_wall_start: datetime | None = None
    clock_scale: float = Field(default=1.0, gt=0)

    _durations = field_validator("review_report_within", "action_reminder_before", mode="before")(
        parse_duration
    )

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (like Asia/Shanghai)") from None
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def targets(self) -> Targets:
        return Targets(
            timely_handling_rate=self.target_timely_handling_rate,
            satisfaction_rate=self.target_satisfaction_rate,
            satisfied_min_score=self.satisfied_min_score,
            top_factors=self.top_factors,
        )

    def clock(self, started: datetime) -> SiteClock:
        if self.clock_anchor is None:
            return SiteClock()
        return SiteClock(self.clock_anchor, self.clock_wall_start or started, self.clock_scale)
