"""Settings shared by every service. Each service subclasses `ServiceSettings` with its own
env prefix (``INTAKE_``, ``ESCALATION_``...) and builds it once at start-up."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_DATABASE_URL = "postgresql+asyncpg://complaints:complaints@127.0.0.1:54320/{name}"


class ServiceSettings(BaseSettings):
    """What every service needs. Subclasses set ``service_name`` and the env prefix."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = "service"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""
    db_pool_size: int = Field(default=20, ge=1)
    max_body_bytes: int = Field(default=64 * 1024, ge=1, description="Larger bodies get 413")
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("kafka_bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    # A prefix for every topic and consumer group: isolates environments (and test runs)
    # sharing one cluster. Empty in production, so topics keep their documented names.
    kafka_topic_prefix: str = Field(
        default="", validation_alias=AliasChoices("kafka_topic_prefix", "KAFKA_TOPIC_PREFIX")
    )
    consumer_group: str = ""
    consumer_max_retries: int = Field(default=3, ge=0)
    consumer_retry_backoff_seconds: float = Field(default=0.2, gt=0)
    # Durable timers (services that have them): the longest an idle scheduler sleeps between
    # looks (a NOTIFY wakes it sooner), and how many due timers one transaction fires.
    timer_max_sleep_seconds: float = Field(default=30.0, gt=0)
    timer_batch_size: int = Field(default=200, ge=1)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    outbox_batch_size: int = Field(default=200, ge=1)
    # Who may use the ops APIs (shared.web.ops_auth): OIDC bearer JWTs from the issuer, its
    # keys at a JWKS URL or in a file (PEM public key or JWKS JSON); the person is `sub`.
    auth_issuer: str = Field(
        default="", validation_alias=AliasChoices("auth_issuer", "AUTH_ISSUER")
    )
    auth_audience: str = Field(
        default="", validation_alias=AliasChoices("auth_audience", "AUTH_AUDIENCE")
    )
    auth_jwks_url: str = Field(
        default="", validation_alias=AliasChoices("auth_jwks_url", "AUTH_JWKS_URL")
    )
    auth_public_key_file: str = Field(
        default="", validation_alias=AliasChoices("auth_public_key_file", "AUTH_PUBLIC_KEY_FILE")
    )
    auth_name_claim: str = Field(
        default="name", validation_alias=AliasChoices("auth_name_claim", "AUTH_NAME_CLAIM")
    )
    auth_roles_claim: str = Field(
        default="roles", validation_alias=AliasChoices("auth_roles_claim", "AUTH_ROLES_CLAIM")
    )
    auth_algorithms: str = Field(
        default="RS256,ES256", validation_alias=AliasChoices("auth_algorithms", "AUTH_ALGORITHMS")
    )
    # Development only: static bearer tokens, each naming a person of the staff directory
    # (``person-id:token,...``; roles from the directory).
    ops_tokens: str = Field(default="", validation_alias=AliasChoices("ops_tokens", "OPS_TOKENS"))
    # The staff directory (shared.directory); empty: the demo directory deploy/local/staff.yaml.
    staff_directory_file: str = Field(
        default="",
        validation_alias=AliasChoices("staff_directory_file", "STAFF_DIRECTORY_FILE"),
    )
    run_migrations: bool = True
    log_level: str = "INFO"

    @field_validator("database_url", mode="after")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        # Accept the plain form operators usually have (postgresql://...) too.
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain) :]
        return url

    def model_post_init(self, _context: object) -> None:
        if not self.database_url:
            self.database_url = LOCAL_DATABASE_URL.format(name=self.service_name)
        if not self.consumer_group:
            self.consumer_group = self.service_name
        self.consumer_group = self.kafka_topic_prefix + self.consumer_group
