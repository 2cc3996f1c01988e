"""Notification configuration (env prefix ``NOTIFY_``). Who is told by which channel comes from
the staff directory (``STAFF_DIRECTORY_FILE``); the words are the templates in ``templates/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from services.notify.domain.quiet_hours import QuietHours, zone
from shared.events.notify import DeliveryChannel
from shared.settings import OffPathSettings

TEMPLATES = Path(__file__).parent / "templates"


class NotifySettings(OffPathSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore", populate_by_name=True)

    service_name: str = "notify"
    port: int = 8005
    max_body_bytes: int = 16 * 1024
    db_pool_size: int = Field(default=10, ge=1)

    # The staff directory is ServiceSettings.staff_directory_file (STAFF_DIRECTORY_FILE).
    templates_dir: Path = TEMPLATES

    # E-mail (SMTP).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False  # upgrade a plain connection (port 587)
    smtp_use_tls: bool = False  # TLS from the first byte (port 465)
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str = "Customer care <care@example.test>"

    # Webhooks (staff) and the SMS gateway (customers): JSON POSTs signed with this secret,
    # ``X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.
    webhook_secret: SecretStr = SecretStr("")
    sms_gateway_url: str | None = None
    http_timeout_seconds: float = Field(default=10.0, gt=0)

    # Customers: which channels they are reached on (each one they have an address for),
    # in which language when their complaint names none, and when not to text them.
    customer_channels: Annotated[list[DeliveryChannel], NoDecode] = [
        DeliveryChannel.EMAIL,
        DeliveryChannel.SMS,
    ]
    default_language: str = "zh-CN"
    time_zone: str = "Asia/Shanghai"
    # Sites in another zone than ``time_zone`` (``store-9=Europe/Berlin,...``): staff read a
    # case's deadlines in its site's local time.
    site_time_zones: Annotated[dict[str, str], NoDecode] = {}
    quiet_hours: str = "22:00-08:00"  # local time; empty: none

    # Links in the messages. ``{complaint_id}`` is replaced; the survey token is appended.
    survey_link_base: str = "http://127.0.0.1:8004/surveys/"
    survey_valid_seconds: float = Field(default=14 * 86400, gt=0)
    # The customer's "My complaint" page (the console's /c/): + a fresh token in every receipt,
    # request for contact data and reminder; only its hash leaves (customer_link.issued).
    # Empty: no such links, and requests for contact data point at ``completion_link``.
    customer_link_base: str = "http://127.0.0.1:8000/c/"
    completion_link: str = "http://127.0.0.1:8001/complaints/{complaint_id}/customer"
    case_link: str = "http://127.0.0.1:8000/cases/{complaint_id}"  # the console's case page
    # Where a customer whose complaint was closed as unreachable submits it again.
    new_complaint_link: str = "http://127.0.0.1:8000/embed/complaint"

    # Delivery: attempts with exponential backoff, then the message is parked as failed.
    delivery_max_attempts: int = Field(default=6, ge=1)
    delivery_backoff_seconds: float = Field(default=5.0, gt=0)
    delivery_backoff_max_seconds: float = Field(default=900.0, gt=0)
    delivery_workers: int = Field(default=4, ge=1)
    delivery_max_sleep_seconds: float = Field(default=30.0, gt=0)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        QuietHours.parse(value, "UTC")  # raises ValueError naming the problem
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        QuietHours.parse("", value)
        return value

    @field_validator("site_time_zones", mode="before")
    @classmethod
    def _site_zones(cls, value: object) -> object:
        """``store-9=Europe/Berlin,store-10=Asia/Tokyo`` (or a JSON object)."""
        if isinstance(value, str) and value.lstrip().startswith("{"):
            value = json.loads(value)
        elif isinstance(value, str):
            pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("expected site=Zone/Name pairs separated by commas")
            value = {site.strip(): name.strip() for site, name in pairs}
        if isinstance(value, dict):
            for name in value.values():
                zone(str(name))  # raises ValueError naming an unknown zone
        return value

    @field_validator("customer_channels", mode="before")
    @classmethod
    def _channels(cls, value: object) -> object:
        if isinstance(value, str) and not value.startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def zone_of(self, site: str | None) -> str:
        """The time zone a site's people read times in."""
        return self.site_time_zones.get(site or "", self.time_zone)

    def quiet(self) -> QuietHours:
        return QuietHours.parse(self.quiet_hours, self.time_zone)
