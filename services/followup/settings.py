"""Follow-up configuration (env prefix ``FOLLOWUP_``). The business numbers (when to call,
how often to retry, tiers) live in the policy file, ``FOLLOWUP_POLICY_FILE``."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from services.followup.domain.policy import BUNDLED_POLICY
from shared.settings import OffPathSettings


class FollowupSettings(OffPathSettings):
    model_config = SettingsConfigDict(env_prefix="FOLLOWUP_", extra="ignore", populate_by_name=True)

    service_name: str = "followup"
    port: int = 8003
    policy_file: Path = BUNDLED_POLICY
    max_body_bytes: int = 32 * 1024
    # The timer scheduler sleeps until the next due timer, at most this long (a NOTIFY
    # wakes it when a timer is armed).
