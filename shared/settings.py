"""Settings shared by every service. Each service subclasses `ServiceSettings` with its own
env prefix (``INTAKE_``, ``ESCALATION_``...) and builds it once at start-up.

Secrets (the database URL, which holds a password; credential lists; tokens) are
``SecretStr``: they print as ``**********`` in logs, reprs and tracebacks, and code reads them
with ``.get_secret_value()`` where it needs them. In production (``ENVIRONMENT=production``
or ``APP_ENV=production``) a placeholder secret stops the service at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_DATABASE_URL = "postgresql+asyncpg://complaints:complaints@127.0.0.1:54320/{name}"

# Secrets that are obviously not secret: refused in production.
PLACEHOLDERS = frozenset(
    {"change-me", "changeme", "change_me", "secret", "password", "passwd", "token", "key",
     "test", "dev", "development", "admin", "example", "xxx", "todo", "complaints"}
)  # fmt: skip
MIN_SECRET_CHARS = 16  # tokens and keys (about 96 bits as URL-safe base64)
MIN_PASSWORD_CHARS = 12  # a database password, when the URL carries one


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Exposure(StrEnum):
    """Who may read ``/docs`` + ``/openapi.json``, or ``/metrics``."""

    PUBLIC = "public"  # anyone who reaches the port
    PROTECTED = "protected"  # a credential: an ops bearer token (docs), METRICS_TOKEN (metrics)
    OFF = "off"  # not served on the API port


@dataclass(frozen=True)
class CredentialList:
    """Marks a SecretStr holding ``name:secret,name:secret`` pairs (each secret is checked)."""


@dataclass(frozen=True)
class DatabaseUrl:
    """Marks a SecretStr holding a database URL (its password, if any, is checked)."""


Credentials = Annotated[SecretStr, CredentialList()]


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is no secret, or None."""
    if not secret.strip():
        return "is empty"
    if secret.strip().lower() in PLACEHOLDERS or "change-me" in secret.lower():
        return "is a placeholder"
    if len(secret) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters"
    return None


def password_problem(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None  # not a URL we can read: the engine will say so
    if password is None:
        return None  # no password in the URL: another means (a file, a socket, IAM)
    if password.lower() in PLACEHOLDERS or "change-me" in password.lower():
        return "holds a placeholder password"
    if len(password) < MIN_PASSWORD_CHARS:
        return f"holds a password shorter than {MIN_PASSWORD_CHARS} characters"
    return None


class ServiceSettings(BaseSettings):
    """What every service needs. Subclasses set ``service_name`` and the env prefix."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = "service"
    environment: Environment = Field(
        default=Environment.DEVELOPMENT,
        validation_alias=AliasChoices("environment", "ENVIRONMENT", "APP_ENV"),
        description="production: refuses placeholder secrets, protects docs and metrics",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: Annotated[SecretStr, DatabaseUrl()] = SecretStr("")
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
    # Records per fetch, all partitions together, in one transaction (with batch handlers, a
    # handful of statements): larger amortises more per event when a backlog drains; at a
    # steady rate a fetch holds what arrived since the last one, far fewer.
    consumer_batch_size: int = Field(default=500, ge=1, le=10_000)
    # A Kafka fetch is answered once this many bytes wait for it, or when the wait is over.
    # 1 answers at once: a consumer on the customer's path (escalation opening the case).
    # Services off that path ask for more, so that at moderate rates a batch gathers many
    # events and pays its transaction and statements once for all of them.
    consumer_fetch_min_bytes: int = Field(default=1, ge=1, le=50 * 1024 * 1024)
    consumer_fetch_max_wait_ms: int = Field(default=500, ge=1, le=30_000)
    # Offsets are committed at most this often (and on a rebalance and at the stop); what a
    # crash leaves uncommitted is redelivered and the inbox makes it a no-op.
    consumer_commit_interval_seconds: float = Field(default=0.5, ge=0, le=60)
    # Allocations before the garbage collector looks at young objects (CPython: 700), for a
    # process whose start-up objects are frozen (shared.entrypoint.settle_garbage_collector).
    gc_young_threshold: int = Field(default=50_000, ge=100, le=10_000_000)
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
    ops_tokens: Credentials = Field(
        default=SecretStr(""), validation_alias=AliasChoices("ops_tokens", "OPS_TOKENS")
    )
    # The staff directory (shared.directory); empty: the demo directory deploy/local/staff.yaml.
    staff_directory_file: str = Field(
        default="",
        validation_alias=AliasChoices("staff_directory_file", "STAFF_DIRECTORY_FILE"),
    )
    # /docs and /openapi.json: public in development; in production an ops bearer token by
    # default. /metrics: public in development; in production METRICS_TOKEN as a bearer
    # token by default, or served only on ``metrics_port`` (a port the network keeps private).
    docs: Exposure | None = None
    metrics: Exposure | None = None
    metrics_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("metrics_token", "METRICS_TOKEN"),
    )
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    run_migrations: bool = True
    log_level: str = "INFO"

    @field_validator("database_url", mode="after")
    @classmethod
    def _async_driver(cls, url: SecretStr) -> SecretStr:
        # Accept the plain form operators usually have (postgresql://...) too.
        text = url.get_secret_value()
        for plain in ("postgresql://", "postgres://"):
            if text.startswith(plain):
                return SecretStr("postgresql+asyncpg://" + text[len(plain) :])
        return url

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> ServiceSettings:
        production = self.environment == Environment.PRODUCTION
        if not self.database_url.get_secret_value():
            self.database_url = SecretStr(LOCAL_DATABASE_URL.format(name=self.service_name))
        if not self.consumer_group:
            self.consumer_group = self.service_name
        self.consumer_group = self.kafka_topic_prefix + self.consumer_group
        if self.docs is None:
            self.docs = Exposure.PROTECTED if production else Exposure.PUBLIC
        if self.metrics is None:  # on the API port; metrics_port, if set, serves them too
            if not production:
                self.metrics = Exposure.PUBLIC
            else:
                self.metrics = Exposure.OFF if self.metrics_port else Exposure.PROTECTED
        problems = self.secret_problems() if production else []
        if self.metrics == Exposure.PROTECTED and self.metrics_token is None:
            problems.append("metrics_token (METRICS_TOKEN) is required when metrics are protected")
        if problems:
            raise ValueError("refused secrets: " + "; ".join(problems))
        return self

    def secret_problems(self) -> list[str]:
        """Every secret setting that is empty, a placeholder or too short, by name (never
        with its value)."""
        problems = []
        for name, field in type(self).model_fields.items():
            value: Any = getattr(self, name)
            if not isinstance(value, SecretStr):
                continue
            text = value.get_secret_value()
            if any(isinstance(m, DatabaseUrl) for m in field.metadata):
                problem = password_problem(text)
            elif any(isinstance(m, CredentialList) for m in field.metadata):
                problem = _credentials_problem(text)
            else:
                problem = secret_problem(text)
            if problem is not None:
                problems.append(f"{name} {problem}")
        return problems

    @property
    def production(self) -> bool:
        return self.environment == Environment.PRODUCTION


class OffPathSettings(ServiceSettings):
    """A service whose consumers are off the customer's path (reports, mails, call-backs, the
    status a customer looks up later): its fetches wait for a batch's worth of events, up to
    ``consumer_fetch_max_wait_ms`` (500 ms, Kafka's own default), instead of one transaction
    per event at moderate rates. Every fetch that ends on the wait costs the broker a request
    and the service a transaction: at 25 complaints/s, a 200 ms wait cost intake, follow-up
    and satisfaction about 1.4 ms more CPU per complaint together."""

    consumer_fetch_min_bytes: int = Field(default=64 * 1024, ge=1, le=50 * 1024 * 1024)


def _credentials_problem(spec: str) -> str | None:
    """None configured is fine (that credential kind is then unused); each one configured
    must be a real secret."""
    for index, item in enumerate(i for i in spec.split(",") if i.strip()):
        name, _, secret = item.partition(":")
        problem = secret_problem(secret)
        if problem is not None:
            return f"entry {index + 1} ({name.strip() or 'unnamed'}) {problem}"
    return None
