"""Satisfaction configuration (env prefix ``SATISFACTION_``). Business numbers are the
defaults of DOMAIN.md that a deployment changes here, not in code."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.satisfaction.domain.figures import BUNDLED_FIGURES
from shared.settings import OffPathSettings

DEFAULT_FACTORS = [
    "speed",
    "attitude",
    "solution",
    "compensation",
    "communication",
    "follow_up",
    "product",
    "other",
]

# The rungs of the escalation ladder, lowest first (DOMAIN.md, "Handling and escalation"):
# "highest escalation level" is ranked along this list; unknown names rank above it.
DEFAULT_LADDER = [
    "frontline",
    "team_lead",
    "supervisor",
    "customer_relations",
    "department_manager",
    "executive_office",
]


class SatisfactionSettings(OffPathSettings):
    model_config = SettingsConfigDict(
        env_prefix="SATISFACTION_", extra="ignore", populate_by_name=True
    )

    service_name: str = "satisfaction"
    port: int = 8004
    max_body_bytes: int = 16 * 1024
    factors: list[str] = DEFAULT_FACTORS
    escalation_ladder: list[str] = DEFAULT_LADDER
    # A survey token is valid this long after the request (then 410 Gone).
    survey_valid_seconds: float = Field(default=14 * 86400, gt=0)
    max_comment_chars: int = 4000
    # Targets (DOMAIN.md: handling-satisfaction >= 85 %, timely handling 100 %). A figure
    # named in ``targets_min`` should be at least its target, in ``targets_max`` at most.
    targets_min: dict[str, float] = {"satisfaction_rate": 0.85, "timely_handling_rate": 1.0}
    targets_max: dict[str, float] = {}
    # The documents' figures applied in the reports, each with its source: churn by level,
    # the complaint pyramid, silent customers per complaint, return rates, factor bands.
    figures_file: Path = BUNDLED_FIGURES
    # The four below override the figures file when set (kept from before it existed).
    # Complaint pyramid: one complaint stands for about 24 silent dissatisfied customers.
    silent_multiplier: float = Field(default=24, ge=0)
    # Customers who return by how their complaint went (DOMAIN.md, source 000).
    retention_unresolved: float = Field(default=0.19, ge=0, le=1)
    retention_resolved: float = Field(default=0.54, ge=0, le=1)
    retention_resolved_quickly: float = Field(default=0.82, ge=0, le=1)
    top_factors: int = Field(default=5, ge=1)
    # Alerts: satisfaction over the last ``alert_window_days`` (today included) below target
    # for a dimension value with at least ``alert_min_answers`` answers.
    alert_window_days: int = Field(default=7, ge=1)
    alert_min_answers: int = Field(default=20, ge=1)
    alert_check_seconds: float = Field(default=60, gt=0)
    alert_dimensions: list[str] = [
        "all",
        "channel",
        "category",
        "severity",
        "tier",
        "escalation_level",
    ]
    max_report_days: int = Field(default=3 * 366, ge=1)

    @field_validator("factors", "escalation_ladder")
    @classmethod
    def _not_empty(cls, values: list[str]) -> list[str]:
        if not values:
            raise ValueError("must name at least one entry")
        return values
