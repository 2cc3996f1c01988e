"""A transaction's outbox rows in one statement (``unnest`` over arrays): the same rows
``shared.messaging.outbox.add`` writes, which sends one execution per row.

The CloudEvent of each row is written with orjson from the event's data dumped once (its
timeline row has the same data): the bytes ``Envelope.to_bytes`` writes (a test holds them
equal), for a third of the CPU of building and serialising an ``Envelope``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.common import EventData
from shared.events.envelope import SPEC_VERSION, schema_uri
from shared.messaging.outbox import shard_of

# One SQL text whatever the number of rows: prepared once per connection. ``json``, not
# ``jsonb``: the relay publishes the exact bytes written here.
_ADD = sa.text(
    "INSERT INTO outbox (event_id, topic, key, shard, event_type, payload) "
    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:topics AS text[]), "
    "CAST(:keys AS text[]), CAST(:shards AS smallint[]), CAST(:types AS text[]), "
    "CAST(:payloads AS json[]))"
)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An event on its way out: the CloudEvent's id, subject (the record key), type and
    JSON."""

    id: uuid.UUID
    subject: str
    type: str
    payload: str


def new_ids(count: int) -> list[uuid.UUID]:
    """``count`` random (version 4) UUIDs, as ``uuid.uuid4`` makes them, from one read of
    the system's randomness instead of one each."""
    pool = os.urandom(16 * count)
    return [uuid.UUID(bytes=pool[i : i + 16], version=4) for i in range(0, 16 * count, 16)]


def cloudevent(
    source: str,
    subject: str,
    event: EventData,
    data: dict[str, Any],
    time: datetime,
    event_id: uuid.UUID | None = None,
) -> Outgoing:
    """``new_event(source, subject, event, time).to_bytes()``, ``data`` being the event's
    ``model_dump(mode="json")``: the same fields in the same order."""
    event_id = event_id or uuid.uuid4()
    payload = head(source, subject, event, time, event_id) + orjson.dumps(data).decode() + "}"
    return Outgoing(event_id, subject, event.event_type, payload)


def head(source: str, subject: str, event: EventData, time: datetime, event_id: uuid.UUID) -> str:
    """A CloudEvent's JSON up to its data (the last field): the payload is this, the data's
    JSON and ``}``. Where PostgreSQL joins them (opening cases), the data travels once."""
    kind = event.event_type
    attributes = orjson.dumps(
        {
            "specversion": SPEC_VERSION,
            "id": event_id,
            "source": source,
            "type": kind,
            "subject": subject,
            "time": time,
            "datacontenttype": "application/json",
            "dataschema": schema_uri(kind, event.schema_version),
        },
        option=orjson.OPT_UTC_Z,
    )
    return attributes[:-1].decode() + ',"data":'


async def add(session: AsyncSession, topic: str, events: Sequence[Outgoing]) -> None:
    """Write ``events`` to the outbox, in their order (the relay publishes by row id)."""
    if events:
        await session.execute(_ADD, params(topic, events))


def params(topic: str, events: Sequence[Outgoing]) -> dict[str, list[Any]]:
    return {
        "ids": [e.id for e in events],
        "topics": [topic] * len(events),
        "keys": [e.subject for e in events],
        "shards": [shard_of(e.subject) for e in events],
        "types": [e.type for e in events],
        "payloads": [e.payload for e in events],
    }
