"""Intake configuration (env prefix ``INTAKE_``). Business numbers are defaults from
DOMAIN.md that a deployment changes here, not in code."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shared.events.common import Channel
from shared.settings import Credentials, ServiceSettings
from shared.web.auth import parse_credentials

DEFAULT_CATEGORIES = [
    "product_quality",
    "service_attitude",
    "delivery",
    "billing",
    "installation",
    "safety",
    "environment",
    "other",
]

# Severity "major" (DOMAIN.md): safety or main-function defects, public or media attention,
# complex or hard-to-judge cases. Matched case-insensitively in the description.
DEFAULT_MAJOR_KEYWORDS = [
    "injury", "injured", "hurt", "fire", "smoke", "burn", "explode", "explosion", "electric shock",
    "poison", "food poisoning", "hospital", "unsafe", "danger", "journalist", "reporter",
    "newspaper", "television", "social media", "lawyer",
    "受伤", "起火", "着火", "冒烟", "爆炸", "触电", "漏电", "中毒", "住院", "安全隐患", "危险",
    "媒体", "记者", "曝光", "电视台", "报社", "律师",
]  # fmt: skip

DEFAULT_REJECTION_ANSWERS = {
    "out_of_warranty": (
        "The product is past its warranty period, so this falls outside our commitments.",
        "Our paid repair service can still help: ask at any service counter.",
    ),
    "not_covered": (
        "This product or service is not covered by our commitments.",
        "The manufacturer or the provider of the service named in your contract.",
    ),
    "in_litigation": (
        "The matter is already before a court, so it must be settled there.",
        "The court or arbitration body hearing the case.",
    ),
    "damages_claim": (
        "Claims for damages and economic disputes are not handled as complaints.",
        "Send a written claim to our legal department, or apply to a consumer association.",
    ),
}


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    service_name: str = "intake"
    port: int = 8001
    api_keys: Credentials = Field(
        default=SecretStr(""), description="channel:key pairs, e.g. web:K1,hotline:K2"
    )
    categories: list[str] = DEFAULT_CATEGORIES
    major_categories: list[str] = ["safety"]
    major_keywords: list[str] = DEFAULT_MAJOR_KEYWORDS
    # Contact data a complaint needs; "a|b" means either will do.
    required_contact: list[str] = ["name", "phone|email"]
    # Acknowledgement targets (DOMAIN.md): remote 2 hours; on site the team lead at once,
    # who has 15 minutes. Tighter for the most valuable tiers and for major complaints.
    ack_minutes_remote: float = 120
    ack_minutes_on_site: float = 15
    ack_tier_factors: dict[str, float] = {"VIP": 0.5, "A": 0.5}
    ack_major_factor: float = 0.5
    rejection_answers: dict[str, tuple[str, str]] = DEFAULT_REJECTION_ANSWERS
    idempotency_retention_days: int = 7

    @field_validator("api_keys")
    @classmethod
    def _channels_exist(cls, spec: SecretStr) -> SecretStr:
        for name, _ in parse_credentials(spec.get_secret_value()):
            if name not in {c.value for c in Channel}:
                raise ValueError(f"unknown channel {name!r} in INTAKE_API_KEYS")
        return spec

    def credentials(self) -> list[tuple[str, str]]:
        return parse_credentials(self.api_keys.get_secret_value())
