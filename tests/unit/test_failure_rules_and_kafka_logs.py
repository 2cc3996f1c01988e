"""The consumer's failure rule and redaction (pure), and the Kafka outage log filter."""

from __future__ import annotations

import io
import json
import logging
import uuid

from prometheus_client import REGISTRY
from pydantic import BaseModel

from shared.logs import JsonFormatter
from shared.messaging import connectivity
from shared.messaging.failures import Failure, PoisonEvent, classify, redacted_message


class Card(BaseModel):
    id: uuid.UUID
    phone: int


def test_malformed_payload_errors_are_permanent_and_others_counted():
    try:
        Card.model_validate({"id": "x", "phone": "+86 138 0013 8000"})
    except Exception as exc:
        invalid = exc
    for exc in (invalid, KeyError("complaint_id"), ValueError("bad"), TypeError("no"),
                PoisonEvent("not a CloudEvent")):  # fmt: skip
        assert classify(exc) is Failure.PERMANENT, exc
    assert classify(RuntimeError("downstream")) is Failure.FAILED


def test_redacted_messages_keep_the_problem_and_drop_the_values():
    try:
        Card.model_validate({"id": "李娜", "phone": "+86 138 0013 8000"})
    except Exception as exc:
        text = redacted_message(exc)
    assert "id" in text and "phone" in text and "valid" in text
    assert "李娜" not in text and "0013" not in text
    assert redacted_message(KeyError("complaint_id")) == "missing key 'complaint_id'"
    assert "0013" not in redacted_message(KeyError("+86 138 0013 8000"))
    quoted = redacted_message(ValueError("Invalid isoformat string: '2026-13-45 王芳'"))
    assert "王芳" not in quoted and "Invalid isoformat string" in quoted
    loose = redacted_message(RuntimeError("call li.na@example.com on 13800138000"))
    assert "li.na@" not in loose and "13800138000" not in loose


def aiokafka_error(message: str) -> logging.LogRecord:
    return logging.LogRecord("aiokafka.conn", logging.ERROR, __file__, 1, message, (), None)


def test_a_kafka_outage_is_one_line_when_lost_and_one_when_back():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    connectivity.install(handler)
    connectivity.install(handler)  # idempotent
    mine = logging.getLogger("shared.kafka")
    mine.addHandler(handler)
    mine.setLevel(logging.INFO)
    try:
        connectivity.restored()  # a clean start
        stream.truncate(0)
        for n in range(500):
            for text in ("Unable connect to node with id 1: [Errno 111] Connect call failed",
                         "Unable to update metadata from [1]"):  # fmt: skip
                record = aiokafka_error(f"{text} #{n}")
                if handler.filter(record):
                    handler.emit(record)
        # While lost, whatever else aiokafka says is a consequence: dropped too.
        heartbeat = logging.LogRecord(
            "aiokafka.consumer", logging.WARNING, __file__, 1, "Heartbeat session expired", (), None
        )
        assert not handler.filter(heartbeat)
        assert handler.filter(logging.LogRecord("shared", logging.ERROR, "", 1, "mine", (), None))
        assert REGISTRY.get_sample_value("kafka_connected") == 0
        assert connectivity.restored() is True
        assert connectivity.restored() is False  # said once
        assert REGISTRY.get_sample_value("kafka_connected") == 1
        # Connected: aiokafka's other warnings pass; a coordinator being elected is no outage.
        assert handler.filter(heartbeat)
        assert handler.filter(aiokafka_error("Group Coordinator Request failed: [Error 15]"))
        assert not connectivity.is_lost()
        lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
        assert [line["message"] for line in lines] == [
            "kafka: connection to the broker lost",
            "kafka: connection to the broker is back",
        ]
        assert lines[0]["level"] == "ERROR"
    finally:
        mine.removeHandler(handler)
