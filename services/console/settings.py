"""The console's settings (env prefix ``CONSOLE_``): where the services answer, the session
key, and the OpenID Connect provider staff sign in with. The console has no database: it is a
backend-for-frontend calling the services' HTTP APIs with the signed-in person's token."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import secret_problem


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("log_level", "LOG_LEVEL"))
    intake_url: str = "http://127.0.0.1:8001"
    escalation_url: str = "http://127.0.0.1:8002"
    followup_url: str = "http://127.0.0.1:8003"
    satisfaction_url: str = "http://127.0.0.1:8004"
    notify_url: str = "http://127.0.0.1:8005"
    # The web channel's intake API key: the embedded complaint form posts as the web channel,
    # and the case page reads the complaint as the customer gave it.
    intake_api_key: SecretStr = SecretStr("")
    # production (ENVIRONMENT or APP_ENV, as for the services): a session secret of at least
    # 32 characters, an identity provider and a real client secret are required.
    environment: str = Field(
        default="development",
        validation_alias=AliasChoices("environment", "ENVIRONMENT", "APP_ENV"),
    )
    # Signs the session cookie and the embedded form's tokens. Random per process when unset
    # in development (sign-ins then do not survive a restart, nor work across replicas).
    session_secret: SecretStr = SecretStr("")
    session_max_age_seconds: int = Field(default=12 * 3600, ge=60)
    # Secure cookies: on whenever the console is served over TLS (directly or behind a proxy).
    secure_cookies: bool = False
    # Who may put the embedded complaint form in a frame (CSP frame-ancestors), e.g.
    # "https://www.example.com"; empty: nobody.
    embed_ancestors: list[str] = []
    time_zone: str = "Asia/Shanghai"
    # Deadlines nearer than this are shown amber (red once passed).
    warn_seconds: int = Field(default=30 * 60, ge=0)
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    survey_factors: list[str] = [
        "speed", "attitude", "solution", "compensation", "communication", "follow_up",
        "product", "other",
    ]  # fmt: skip
    complaint_categories: list[str] = [
        "product_quality", "service_attitude", "delivery", "billing", "installation", "safety",
        "environment", "other",
    ]  # fmt: skip
    # Sign-in: OpenID Connect, authorization code with PKCE (S256), state and nonce checked
    # (Authlib). The provider's discovery document is read from
    # <issuer>/.well-known/openid-configuration unless oidc_discovery_url names another
    # address (an internal one, say). In development `make run` registers the console with the
    # development issuer (python -m shared.dev_issuer serve), whose sign-in page lists the demo
    # staff. The access token the provider issues is what the services are called with.
    oidc_issuer: str = ""
    oidc_discovery_url: str = ""
    oidc_client_id: str = "console"
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_redirect_url: str = "http://127.0.0.1:8000/auth/callback"
    oidc_scope: str = "openid profile"
    # What the sign-in button calls the provider.
    oidc_provider_name: str = "your company's identity provider"

    @model_validator(mode="after")
    def _production(self) -> ConsoleSettings:
        if self.environment.lower() == "production":
            if len(self.session_secret.get_secret_value()) < 32:
                raise ValueError("CONSOLE_SESSION_SECRET: at least 32 characters in production")
            if not self.oidc_issuer:
                raise ValueError("CONSOLE_OIDC_ISSUER: nobody can sign in without a provider")
            problem = secret_problem(self.oidc_client_secret.get_secret_value())
            if problem:
                raise ValueError(f"CONSOLE_OIDC_CLIENT_SECRET {problem}")
        return self
