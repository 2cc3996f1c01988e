"""Recording a complaint in one database round trip: the complaint, its first status, its event
in the outbox (and the Idempotency-Key, when given) written by a single statement of
data-modifying CTEs. A single statement is atomic on its own, so no BEGIN/COMMIT round trips
either; asyncpg prepares it once per connection and then only binds and executes it.

The hot path of intake runs on its own asyncpg pool (``Recorder``), beside the SQLAlchemy
engine the other queries use: the engine's pre-ping would add a round trip per request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from shared.db import SERVER_SETTINGS

# (column, PostgreSQL type) in parameter order ($1...); jsonb values are passed as JSON text.
_COMPLAINT = (
    ("id", "uuid"),
    ("channel", "text"),
    ("category", "text"),
    ("status", "text"),
    ("severity", "text"),
    ("severity_reasons", "jsonb"),
    ("valid", "boolean"),
    ("rejection_reason", "text"),
    ("customer_id", "text"),
    ("customer_tier", "text"),
    ("customer", "jsonb"),
    ("description", "text"),
    ("subject", "jsonb"),
    ("expected_outcome", "jsonb"),
    ("documents", "jsonb"),
    ("flags", "jsonb"),
    ("in_litigation", "boolean"),
    ("covered", "boolean"),
    ("missing_fields", "jsonb"),
    ("received_at", "timestamptz"),
    ("acknowledge_by", "timestamptz"),
    ("status_changed_at", "timestamptz"),
)
_JSONB = frozenset(name for name, kind in _COMPLAINT if kind == "jsonb")
_N = len(_COMPLAINT)
# After the complaint's: the event's type, id, topic, shard and payload; then, when keyed, the
# Idempotency-Key's channel, key and request hash.
_EVENT_TYPE, _EVENT_ID, _TOPIC, _SHARD, _PAYLOAD = (f"${_N + i}" for i in range(1, 6))
_KEY_CHANNEL, _KEY, _KEY_HASH = (f"${_N + i}" for i in range(6, 9))


def _statement(keyed: bool) -> str:
    """The inserts run only when the Idempotency-Key was fresh (``k`` inserted a row); the
    statement answers whether they did."""
    guard = " WHERE EXISTS (SELECT 1 FROM k)" if keyed else ""
    values = ", ".join(f"${i}::{kind}" for i, (_, kind) in enumerate(_COMPLAINT, 1))
    columns = ", ".join(name for name, _ in _COMPLAINT)
    key = (
        "k AS (INSERT INTO idempotency_keys (channel, key, request_hash, complaint_id) "
        f"VALUES ({_KEY_CHANNEL}::text, {_KEY}::text, {_KEY_HASH}::text, $1::uuid) "
        "ON CONFLICT DO NOTHING RETURNING 1), "
        if keyed
        else ""
    )
    return (
        f"WITH {key}"
        f"c AS (INSERT INTO complaints ({columns}) SELECT {values}{guard}), "
        "h AS (INSERT INTO complaint_status_history (complaint_id, status, event_type, at) "
        f"SELECT $1::uuid, $4::text, {_EVENT_TYPE}::text, $20::timestamptz{guard}), "
        "o AS (INSERT INTO outbox (event_id, topic, key, shard, event_type, payload) "
        f"SELECT {_EVENT_ID}::uuid, {_TOPIC}::text, $1::uuid::text, {_SHARD}::smallint, "
        f"{_EVENT_TYPE}::text, {_PAYLOAD}::json{guard}) "
        + ("SELECT EXISTS (SELECT 1 FROM k)" if keyed else "SELECT true")
    )


_PLAIN, _KEYED = _statement(False), _statement(True)


@dataclass(frozen=True)
class OutboxEvent:
    event_id: uuid.UUID
    topic: str
    shard: int
    event_type: str
    payload: bytes  # the envelope's JSON


@dataclass(frozen=True)
class IdempotencyKey:
    channel: str
    key: str
    request_hash: str


def _dumps(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


async def _keep_as_is(conn: asyncpg.Connection) -> None:
    return None


class Recorder:
    def __init__(self, pool: asyncpg.Pool, acquire_timeout: float) -> None:
        self.pool = pool
        self.acquire_timeout = acquire_timeout

    @classmethod
    async def open(cls, database_url: str, size: int, acquire_timeout: float = 10) -> Recorder:
        """``database_url``: SQLAlchemy's form (``postgresql+asyncpg://``) or asyncpg's."""
        dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        pool = await asyncpg.create_pool(
            dsn,
            min_size=1,
            max_size=size,
            timeout=3,  # connecting: a dead server is a quick 503, as with the engine
            command_timeout=30,
            server_settings=SERVER_SETTINGS,
            # The default reset (RESET ALL, UNLISTEN *...) is a round trip per release; this
            # pool's connections run one statement and keep no session state.
            reset=_keep_as_is,
        )
        return cls(pool, acquire_timeout)

    async def close(self) -> None:
        await self.pool.close()

    async def record(
        self, complaint: dict[str, Any], event: OutboxEvent, idempotency: IdempotencyKey | None
    ) -> bool:
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            return await record(conn, complaint, event, idempotency)


async def record(
    conn: asyncpg.Connection,
    complaint: dict[str, Any],
    event: OutboxEvent,
    idempotency: IdempotencyKey | None,
) -> bool:
    """Write it all, or (the Idempotency-Key was taken) nothing: returns which."""
    args: list[Any] = [
        _dumps(complaint[name]) if name in _JSONB else complaint[name] for name, _ in _COMPLAINT
    ]
    args += [event.event_type, event.event_id, event.topic, event.shard, event.payload.decode()]
    if idempotency is not None:
        args += [idempotency.channel, idempotency.key, idempotency.request_hash]
    return bool(await conn.fetchval(_PLAIN if idempotency is None else _KEYED, *args))
