"""Intake configuration (env prefix ``INTAKE_``). Business numbers are defaults from
DOMAIN.md that a deployment changes here, not in code."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from services.intake.domain.access import ApiKey, parse_api_keys
from services.intake.domain.contact_chase import ChasePolicy
from services.intake.domain.customer_link import LinkPolicy
from shared.durations import parse_duration
from shared.settings import OffPathSettings, secret_problem

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


class IntakeSettings(OffPathSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    service_name: str = "intake"
    port: int = 8001
    # Not a plain name:secret list: scopes may hold commas (crm[read-all,tier]:K3), so the
    # keys are checked one by one (secret_problems below).
    api_keys: SecretStr = Field(
        default=SecretStr(""),
        description="channel:key pairs, e.g. web:K1,hotline:K2; other clients name their "
        "scopes: crm[read-all,tier]:K3 (see services/intake/domain/access.py)",
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
    # Personal data retention (PIPL, GDPR): a complaint in one of these statuses for longer
    # than this is anonymised, in every service (customer.erasure_requested, reason retention).
    retention_days: float = Field(default=365, gt=0)
    retention_statuses: list[str] = ["closed", "rejected", "closed_unreachable"]
    retention_sweep_seconds: float = Field(default=3600, gt=0)
    retention_batch_size: int = Field(default=100, ge=1)
    # The services that erase personal data and confirm it (customer.erased): an erasure is
    # complete when each has confirmed each of its requests (GET /erasures/{id}).
    erasure_services: list[str] = ["escalation", "followup", "satisfaction", "notify"]

    # Connections of the pool that records complaints (one statement each, store/recording.py),
    # beside the engine's db_pool_size for everything else.
    record_pool_size: int = Field(default=8, ge=1)
    # Past capacity (shared/web/overload.py): this many requests inside the app at once, this
    # many more waiting at most queue_wait_seconds; any other gets 503 + Retry-After at once.
    max_concurrent_requests: int = Field(default=16, ge=1)
    max_queued_requests: int = Field(default=32, ge=0)
    queue_wait_seconds: float = Field(default=0.5, gt=0)
    overload_retry_after_seconds: int = Field(default=1, ge=1)
    # An incomplete complaint (awaiting the customer's contact data): reminders this long
    # after receipt (comma-separated durations: 90, 15m, 2h, 1d), then closed as unreachable.
    contact_reminders: Annotated[list[timedelta], NoDecode] = [
        timedelta(days=1),
        timedelta(days=3),
    ]
    close_unreachable_after: timedelta = timedelta(days=7)
    # The customer's "My complaint" link stays valid this long after the complaint is closed
    # (or rejected, or closed as unreachable).
    link_valid_after_closing: timedelta = timedelta(days=90)

    @field_validator("contact_reminders", mode="before")
    @classmethod
    def _reminders(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            return [parse_duration(part) for part in value]
        return value

    @field_validator("close_unreachable_after", "link_valid_after_closing", mode="before")
    @classmethod
    def _duration(cls, value: object) -> timedelta:
        return parse_duration(value)

    @model_validator(mode="after")
    def _chase_in_order(self) -> IntakeSettings:
        self.chase_policy()  # raises ValueError naming the problem
        return self

    def chase_policy(self) -> ChasePolicy:
        return ChasePolicy(tuple(self.contact_reminders), self.close_unreachable_after)

    def link_policy(self) -> LinkPolicy:
        return LinkPolicy(self.link_valid_after_closing)

    @field_validator("api_keys")
    @classmethod
    def _keys_parse(cls, spec: SecretStr) -> SecretStr:
        try:
            parse_api_keys(spec.get_secret_value())
        except ValueError as exc:
            raise ValueError(f"INTAKE_API_KEYS: {exc}") from None
        return spec

    def api_key_list(self) -> list[ApiKey]:
        return parse_api_keys(self.api_keys.get_secret_value())

    def secret_problems(self) -> list[str]:
        problems = [p for p in super().secret_problems() if not p.startswith("api_keys ")]
        for index, key in enumerate(self.api_key_list()):
            problem = secret_problem(key.secret.get_secret_value())
            if problem is not None:
                problems.append(f"api_keys entry {index + 1} ({key.client.name}) {problem}")
        return problems
