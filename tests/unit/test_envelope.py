import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.events import EVENT_TYPES, Envelope, new_event, parse_data
from shared.events.common import Channel, Mode, Severity
from shared.events.intake import ComplaintReceived, Customer


def received(**overrides) -> ComplaintReceived:
    values = dict(
        complaint_id=uuid.uuid4(),
        received_at=datetime(2026, 5, 1, 9, tzinfo=UTC),
        channel=Channel.HOTLINE,
        mode=Mode.REMOTE,
        category="billing",
        severity=Severity.GENERAL,
        severity_reasons=[],
        customer=Customer(name="张三", phone="13800000000"),
        description="账单金额不对",
        information_complete=True,
        acknowledge_by=None,
    )
    return ComplaintReceived(**(values | overrides))


def test_envelope_is_a_cloudevent_in_structured_mode():
    data = received()
    event = new_event("/complaint-platform/intake", str(data.complaint_id), data)
    body = json.loads(event.to_bytes())
    assert body["specversion"] == "1.0"
    assert uuid.UUID(body["id"])
    assert body["type"] == "complaint.received"
    assert body["subject"] == str(data.complaint_id)
    assert body["source"] == "/complaint-platform/intake"
    assert body["datacontenttype"] == "application/json"
    assert body["dataschema"] == "urn:complaint-platform:schema:complaint.received:v1"
    assert datetime.fromisoformat(body["time"])
    assert body["data"]["complaint_id"] == str(data.complaint_id)
    assert event.key == str(data.complaint_id).encode()


def test_chinese_text_round_trips_unescaped():
    data = received()
    raw = new_event("/x", str(data.complaint_id), data).to_bytes()
    assert "账单金额不对".encode() in raw
    back = Envelope.from_bytes(raw)
    assert parse_data(back.type, back.data) == data


def test_each_event_gets_its_own_id():
    data = received()
    assert new_event("/x", "s", data).id != new_event("/x", "s", data).id


def test_envelope_requires_its_attributes():
    with pytest.raises(ValidationError):
        Envelope.model_validate({"specversion": "1.0", "type": "x", "data": {}})


def test_unknown_event_type_is_refused():
    with pytest.raises(ValueError, match="unknown event type"):
        parse_data("complaint.teleported", {})


def test_every_event_model_exports_a_json_schema():
    for event_type, model in EVENT_TYPES.items():
        schema = model.model_json_schema()
        assert schema["type"] == "object", event_type
        assert schema["properties"], event_type


def test_exported_schemas_are_up_to_date():
    """schemas/ is the published contract: regenerate it (make schemas) with every change."""
    from pathlib import Path

    from shared.events.export import schemas
    from shared.events.versions import retired_schemas

    folder = Path(__file__).parents[2] / "schemas"
    # Retired versions stay published beside the current ones, unchanged.
    expected = schemas() | retired_schemas()
    for name, schema in expected.items():
        assert json.loads((folder / name).read_text()) == schema, f"{name} is stale: make schemas"
    assert {p.name for p in folder.glob("*.json")} == set(expected), "stale files in schemas/"
