"""Escalation configuration (env prefix ``ESCALATION_``). The business rules live in the
policy file, not here: ``ESCALATION_POLICY_FILE`` (default: the bundled policies/default.yaml)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class EscalationSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ESCALATION_", extra="ignore", populate_by_name=True
    )

    service_name: str = "escalation"
    port: int = 8002
    policy_file: str = ""
    # The scheduler sleeps until the next due timer (woken early when one is armed); this
    # caps a sleep so a clock change or a lost notification costs at most this much.
    # Fired and cancelled timers are deleted after this long (the timeline keeps the story).
