"""One failure rule for every consumer, against the real PostgreSQL and Kafka: what is
retried without counting, what is counted, what is parked at once, and what the dead-letter
copy may say."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from shared.db import session_factory
from shared.events.envelope import Envelope
from shared.events.topics import dead_letter
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.kafka import KafkaLink
from tests.integration.test_consumer_runner import (
    count_effects,
    effects_table,
    probe,
    produce,
    record_effect,
    run_until,
)
from tests.support.kafka import read_until


async def parked_rows(engine) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT * FROM parked_events ORDER BY id"))
        return [dict(r._mapping) for r in rows]


def raise_sqlstate(code: str) -> sa.TextClause:
    """PostgreSQL itself raising the error a deadlock victim or a serialization failure gets."""
    return sa.text(f"DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '{code}'; END $$")


def runner_for(engine, servers, topic: str, handlers, **options) -> ConsumerRunner:
    return ConsumerRunner(
        [topic],
        f"g-{uuid.uuid4().hex[:8]}",
        handlers,
        session_factory(engine),
        KafkaLink(servers.kafka_bootstrap, "t"),
        **options,
    )


@pytest.mark.parametrize("codes", [["40P01", "40P01", "40001"], ["40001"] * 5])
async def test_deadlocks_and_serialization_failures_are_retried_without_parking(
    messaging_engine, servers, fresh_topic, codes
):
    """Even with no retries allowed: a deadlock victim is not the event's fault."""
    await effects_table(messaging_engine)
    event = probe(str(uuid.uuid4()), 1)
    failures = list(codes)

    async def handler(session, found: Envelope) -> None:
        await record_effect(session, found)
        if failures:
            await session.execute(raise_sqlstate(failures.pop(0)))

    await produce(servers.kafka_bootstrap, fresh_topic, [(event.subject, event.to_bytes())])
    runner = runner_for(messaging_engine, servers, fresh_topic, {"test.probe": handler},
                        max_retries=0)  # fmt: skip

    async def applied() -> bool:
        return bool(await count_effects(messaging_engine))

    await run_until(runner, applied)
    assert failures == []
    assert await count_effects(messaging_engine) == {str(event.id): 1}
    assert await parked_rows(messaging_engine) == []


async def test_a_statement_timeout_is_the_handlers_failure_counted_and_parked(
    messaging_engine, servers, fresh_topic
):
    await effects_table(messaging_engine)
    slow, after = probe(str(uuid.uuid4()), -1), probe(str(uuid.uuid4()), 2)
    attempts = 0

    async def handler(session, event: Envelope) -> None:
        nonlocal attempts
        if event.data["seq"] < 0:
            attempts += 1
            await session.execute(sa.text("SET LOCAL statement_timeout = '20ms'"))
            await session.execute(sa.text("SELECT pg_sleep(2)"))
        await record_effect(session, event)

    await produce(
        servers.kafka_bootstrap,
        fresh_topic,
        [(slow.subject, slow.to_bytes()), (after.subject, after.to_bytes())],
    )
    runner = runner_for(messaging_engine, servers, fresh_topic, {"test.probe": handler},
                        max_retries=1, retry_backoff=0.05)  # fmt: skip

    async def settled() -> bool:
        return bool(await parked_rows(messaging_engine)) and bool(
            await count_effects(messaging_engine)
        )

    await run_until(runner, settled)
    # Counted: the first try and one retry, then parked (row["attempts"] below). When both
    # records come in one fetch, the batch's own try precedes the replay event by event and
    # is not the event's to count, so the handler may have run once more.
    assert attempts in (2, 3)
    [row] = await parked_rows(messaging_engine)
    assert row["event_id"] == slow.id and row["status"] == "parked"
    assert row["error_type"] == "QueryCanceledError" and row["attempts"] == 2
    assert "57014" in row["error_message"]
    assert await count_effects(messaging_engine) == {str(after.id): 1}


class Strict(BaseModel):
    complaint_id: uuid.UUID


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"seq": 1, "complaint_id": "not-a-uuid"}, "ValidationError"),
        ({"seq": 1}, "KeyError"),
        ({"seq": 1, "complaint_id": "x", "when": "yesterday"}, "ValueError"),
    ],
)
async def test_a_malformed_payload_is_parked_at_once_without_retries(
    messaging_engine, servers, fresh_topic, data, error
):
    event = Envelope(source="/t", type="test.probe", subject=str(uuid.uuid4()), data=data)
    attempts = 0

    async def handler(session, found: Envelope) -> None:
        nonlocal attempts
        attempts += 1
        if "when" in found.data:
            date.fromisoformat(found.data["when"])
        if found.data.get("complaint_id") == "not-a-uuid":
            Strict.model_validate(found.data)
        found.data["complaint_id"]  # a missing key, as a handler meets it

    await produce(servers.kafka_bootstrap, fresh_topic, [(event.subject, event.to_bytes())])
    runner = runner_for(messaging_engine, servers, fresh_topic, {"test.probe": handler},
                        max_retries=5, retry_backoff=0.5)  # fmt: skip

    async def parked() -> bool:
        return bool(await parked_rows(messaging_engine))

    await run_until(runner, parked)
    assert attempts == 1
    [row] = await parked_rows(messaging_engine)
    assert row["error_type"] == error and row["attempts"] == 1


async def test_dead_letter_headers_name_the_error_never_the_input(
    messaging_engine, servers, fresh_topic
):
    phone, name, email = "+86 138 0013 8000", "李娜", "li.na@example.com"
    customer = {"name": name, "phone": phone, "email": email}
    events = [
        Envelope(source="/t", type=kind, subject=str(uuid.uuid4()), data={"customer": customer})
        for kind in ("test.runtime", "test.validation")
    ]

    async def careless(session, found: Envelope) -> None:
        c = found.data["customer"]
        # A careless handler putting the input into its error, as library errors do.
        raise RuntimeError(f"cannot call {c['name']!r} on {c['phone']!r} or {c['email']}")

    async def validating(session, found: Envelope) -> None:
        class Customer(BaseModel):
            name: int

        Customer.model_validate(found.data["customer"])

    await produce(servers.kafka_bootstrap, fresh_topic, [(e.subject, e.to_bytes()) for e in events])
    runner = runner_for(
        messaging_engine, servers, fresh_topic,
        {"test.runtime": careless, "test.validation": validating}, max_retries=0,
    )  # fmt: skip
    await run_until(runner, lambda: _copies_sent(messaging_engine, 2))
    await runner.kafka.close()

    copies = await read_until(
        servers.kafka_bootstrap,
        dead_letter(fresh_topic),
        lambda kept: len(kept) >= 2,
        lambda r: r.key in {e.subject for e in events},
    )
    assert {c.headers["dlq-error-type"] for c in copies} == {b"RuntimeError", b"ValidationError"}
    for copy in copies:
        everything = b" ".join(copy.headers.values()).decode()
        for secret in (phone, name, email, "0013", "li.na"):
            assert secret not in everything, (secret, copy.headers)
        assert "dlq-error-trace" not in copy.headers
        assert copy.value["data"]["customer"]["phone"] == phone  # the payload is the record


async def _copies_sent(engine, n: int) -> bool:
    async with engine.connect() as conn:
        sent = await conn.scalar(
            sa.text("SELECT count(*) FROM parked_events WHERE dead_lettered_at IS NOT NULL")
        )
    return sent >= n


async def test_stopping_while_kafka_hangs_does_not_wait_for_the_dead_letter_copy(
    messaging_engine, servers, fresh_topic, caplog
):
    """The park is in the database; the copy to the dead-letter topic is best effort and a
    shutdown waits for nothing. Kafka here is a server that accepts connections and never
    answers (a hung broker): only the stop can end the wait."""
    event = probe(str(uuid.uuid4()), 1)

    async def handler(session, found: Envelope) -> None:
        raise RuntimeError("always")

    runner = runner_for(messaging_engine, servers, fresh_topic, {"test.probe": handler},
                        max_retries=0)  # fmt: skip
    await runner.process(_record(fresh_topic, event))
    assert [r["status"] for r in await parked_rows(messaging_engine)] == ["parked"]

    held: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    runner.kafka = KafkaLink(f"127.0.0.1:{port}", "t")
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, "shared.messaging.consumer")
    publishing = asyncio.create_task(runner.publish_dead_letters(stop))
    while not held:  # noqa: ASYNC110 -- until the producer is connected, waiting for an answer
        await asyncio.sleep(0.05)
    stop.set()
    assert await asyncio.wait_for(publishing, 60) is None  # nothing sent
    # It ended because of the stop, not because a timeout ran out.
    [warning] = [r for r in caplog.records if "dead-letter copies" in r.getMessage()]
    assert warning.error == "_Stopped"
    [row] = await parked_rows(messaging_engine)
    assert row["dead_lettered_at"] is None  # published by a later round, not lost
    for writer in held:
        writer.close()
    silent.close()


def _record(topic: str, event: Envelope):
    from aiokafka.structs import ConsumerRecord

    return ConsumerRecord(
        topic=topic, partition=0, offset=0, timestamp=0, timestamp_type=0,
        key=event.key, value=event.to_bytes(), checksum=None, serialized_key_size=0,
        serialized_value_size=0, headers=(),
    )  # fmt: skip
