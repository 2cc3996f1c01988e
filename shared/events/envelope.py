"""CloudEvents 1.0 in structured JSON mode: the whole event, attributes and data, is the
Kafka record value; the record key is the complaint id so a complaint's events stay in order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
SPEC_VERSION = "1.0"


class Envelope(BaseModel):
    """A CloudEvent. ``subject`` is the complaint id (or the customer id for activity events)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: str = SPEC_VERSION
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    source: str
    type: str
    subject: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    dataschema: str | None = None
    data: dict[str, Any]

    @property
    def key(self) -> bytes:
        return self.subject.encode()

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_bytes(self) -> bytes:
        # pydantic's own serializer: the same JSON as json.dumps of to_json() (compact,
        # UTF-8), without building the dict first.
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)


def schema_uri(event_type: str, version: int) -> str:
    return f"urn:complaint-platform:schema:{event_type}:v{version}"


def new_event(source: str, subject: str, data: BaseModel, time: datetime | None = None) -> Envelope:
    """Wrap a registered event model in an envelope; the model decides the type and schema."""
    event_type: str = data.event_type  # type: ignore[attr-defined]
    version: int = data.schema_version  # type: ignore[attr-defined]
    return Envelope(
        source=source,
        type=event_type,
        subject=subject,
        time=time or datetime.now(UTC),
        dataschema=schema_uri(event_type, version),
        data=data.model_dump(mode="json"),
    )
