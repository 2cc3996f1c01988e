"""Event contracts evolve compatibly: the rules of shared.events.compat, every current schema
against its published version, and the AsyncAPI document (fresh, complete, served)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.events.asyncapi import asyncapi_document
from shared.events.compat import ChangeKind, Compatibility, breaking_changes
from shared.events.export import (
    PUBLISHED,
    Status,
    asyncapi_yaml,
    check_published,
    freeze_new,
    retired,
    schemas,
)
from shared.events.registry import EVENT_TOPICS, EVENT_TYPES
from shared.events.topics import Topics, dead_letter

SCHEMAS = Path(__file__).parents[2] / "schemas"

# A published contract in pydantic's shape: $defs, $ref, anyOf for nullable fields.
PUBLISHED_V1: dict[str, Any] = {
    "$defs": {
        "Tier": {"enum": ["A", "B", "C"], "type": "string"},
        "Customer": {
            "properties": {
                "id": {"type": "string"},
                "tier": {"$ref": "#/$defs/Tier", "default": "C"},
            },
            "required": ["id"],
            "type": "object",
        },
    },
    "additionalProperties": False,
    "properties": {
        "complaint_id": {"format": "uuid", "type": "string"},
        "customer": {"$ref": "#/$defs/Customer"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "attempts": {"type": "integer", "minimum": 0},
        "tags": {"items": {"type": "string"}, "type": "array", "default": []},
    },
    "required": ["complaint_id", "customer", "attempts"],
    "type": "object",
}


def changed(edit) -> dict[str, Any]:
    schema = copy.deepcopy(PUBLISHED_V1)
    edit(schema)
    return schema


def kinds(new: dict[str, Any], mode: Compatibility = Compatibility.FULL) -> set[tuple[str, str]]:
    return {(c.path, c.kind) for c in breaking_changes(PUBLISHED_V1, new, mode)}


def test_the_same_schema_has_no_change():
    assert breaking_changes(PUBLISHED_V1, copy.deepcopy(PUBLISHED_V1)) == []


def test_a_removed_field_breaks():
    new = changed(lambda s: s["properties"].pop("note"))
    assert kinds(new) == {("note", ChangeKind.REMOVED)}


def test_a_removed_nested_field_breaks_through_refs():
    new = changed(lambda s: s["$defs"]["Customer"]["properties"].pop("tier"))
    assert kinds(new) == {("customer.tier", ChangeKind.REMOVED)}


def test_a_renamed_field_breaks():
    def rename(s):
        s["properties"]["remark"] = s["properties"].pop("note")

    assert kinds(changed(rename)) == {("note", ChangeKind.REMOVED)}


def test_an_added_optional_field_is_compatible():
    def add(s):
        s["properties"]["channel"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
        s["$defs"]["Customer"]["properties"]["email"] = {"type": "string"}

    assert breaking_changes(PUBLISHED_V1, changed(add)) == []


def test_opening_a_closed_object_is_compatible():
    """Readers tolerate unknown fields: additionalProperties is not part of the contract."""
    assert breaking_changes(PUBLISHED_V1, changed(lambda s: s.pop("additionalProperties"))) == []


def test_annotations_do_not_count():
    def annotate(s):
        s["title"] = "complaint.received"
        s["x-topic"] = "complaints.intake.v1"
        s["properties"]["note"]["description"] = "Free text"
        s["$defs"]["Customer"]["properties"]["tier"]["default"] = "B"

    assert breaking_changes(PUBLISHED_V1, changed(annotate)) == []


def test_a_new_required_field_breaks_readers_of_old_events():
    def add(s):
        s["properties"]["channel"] = {"type": "string"}
        s["required"].append("channel")

    new = changed(add)
    assert kinds(new) == {("channel", ChangeKind.NEWLY_REQUIRED)}
    assert kinds(new, Compatibility.FORWARD) == set()


def test_an_optional_field_made_required_breaks():
    assert kinds(changed(lambda s: s["required"].append("note"))) == {
        ("note", ChangeKind.NEWLY_REQUIRED)
    }


def test_a_required_field_made_optional_breaks_old_readers():
    new = changed(lambda s: s["required"].remove("attempts"))
    assert kinds(new) == {("attempts", ChangeKind.NO_LONGER_REQUIRED)}
    assert kinds(new, Compatibility.BACKWARD) == set()


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda s: s["properties"].update(note={"type": "string"}), "note"),  # not nullable
        (lambda s: s["properties"].update(attempts={"type": "string"}), "attempts"),
        (lambda s: s["properties"]["attempts"].update(minimum=1), "attempts"),
        (lambda s: s["properties"]["tags"]["items"].update(maxLength=10), "tags[]"),
        (lambda s: s["properties"]["complaint_id"].update(format="date-time"), "complaint_id"),
    ],
)
def test_a_narrowed_type_breaks(edit, path):
    new = changed(edit)
    assert (path, ChangeKind.NARROWED) in kinds(new)
    assert (path, ChangeKind.NARROWED) in kinds(new, Compatibility.BACKWARD)


def test_an_enum_value_removed_breaks():
    new = changed(lambda s: s["$defs"]["Tier"]["enum"].remove("B"))
    assert kinds(new) == {("customer.tier", ChangeKind.ENUM_REMOVED)}


def test_an_enum_value_added_breaks_readers_that_validate_the_enum():
    new = changed(lambda s: s["$defs"]["Tier"]["enum"].append("VIP"))
    assert kinds(new) == {("customer.tier", ChangeKind.ENUM_ADDED)}
    assert kinds(new, Compatibility.BACKWARD) == set()


def test_a_widened_type_breaks_old_readers():
    def widen(s):
        s["properties"]["attempts"] = {"type": "number", "minimum": 0}
        s["properties"]["complaint_id"] = {"anyOf": [{"type": "string", "format": "uuid"},
                                                     {"type": "null"}]}  # fmt: skip

    assert kinds(changed(widen)) == {
        ("attempts", ChangeKind.WIDENED),
        ("complaint_id", ChangeKind.WIDENED),
    }


def test_every_current_contract_is_published_and_compatible():
    """Fails on a breaking change of a published version: bump ``schema_version`` of the model
    (or move it to a .v2 topic) instead. A new type or version must be published: run
    ``make schemas`` and commit schemas/published/."""
    checks = check_published(SCHEMAS)
    broken = {c.name: [str(x) for x in c.changes] for c in checks if c.status is Status.BREAKING}
    assert not broken, f"breaking changes of published contracts: {broken}"
    unpublished = [c.name for c in checks if c.status is Status.UNPUBLISHED]
    assert not unpublished, f"not yet published (run make schemas): {unpublished}"


def published_folder(tmp_path: Path, current: dict[str, dict[str, Any]]) -> Path:
    for name, schema in current.items():
        target = tmp_path / PUBLISHED / ("" if name == "envelope.json" else schema["x-topic"])
        target.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(json.dumps(schema))
    return tmp_path


def test_a_breaking_change_of_a_published_version_fails_the_check(tmp_path):
    current = schemas()
    folder = published_folder(tmp_path, current)
    edited = copy.deepcopy(current)
    del edited["complaint.received.v1.json"]["properties"]["description"]
    checks = {c.name: c for c in check_published(folder, current=edited)}
    check = checks["complaints.intake.v1/complaint.received.v1.json"]
    assert check.status is Status.BREAKING
    assert [str(c) for c in check.changes] == ["description: field removed"]


def test_a_bumped_version_is_a_new_contract_and_the_old_one_stays(tmp_path):
    current = schemas()
    folder = published_folder(tmp_path, current)
    bumped = copy.deepcopy(current)
    v2 = bumped.pop("complaint.received.v1.json")
    del v2["properties"]["description"]
    bumped["complaint.received.v2.json"] = v2
    moved = bumped.pop("case.opened.v1.json")  # the other way: a .v2 topic
    moved["x-topic"] = "complaints.handling.v2"
    moved["required"].append("brand_new_field")
    bumped["case.opened.v1.json"] = moved

    checks = {c.name: c.status for c in check_published(folder, current=bumped)}
    assert checks["complaints.intake.v1/complaint.received.v2.json"] is Status.UNPUBLISHED
    assert checks["complaints.handling.v2/case.opened.v1.json"] is Status.UNPUBLISHED
    assert Status.BREAKING not in checks.values()
    assert retired(folder, current=bumped) == [
        "complaints.handling.v1/case.opened.v1.json",
        "complaints.intake.v1/complaint.received.v1.json",
    ]


def test_publishing_never_rewrites_a_published_version(tmp_path):
    written = freeze_new(tmp_path)
    assert len(written) == len(schemas())
    frozen = tmp_path / PUBLISHED / "complaints.intake.v1" / "complaint.received.v1.json"
    frozen.write_text("{}")
    assert freeze_new(tmp_path) == []
    assert frozen.read_text() == "{}"


# ---------------------------------------------------------------- AsyncAPI


def test_the_asyncapi_document_is_up_to_date():
    """schemas/asyncapi.yaml is generated: regenerate it (make schemas) with every change."""
    assert (SCHEMAS / "asyncapi.yaml").read_text() == asyncapi_yaml(), "stale: make schemas"


def test_the_asyncapi_document_has_every_topic_event_and_dead_letter_companion():
    doc = asyncapi_document()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in doc["channels"].values()}
    topics = Topics()
    for event_type, attr in EVENT_TOPICS.items():
        address = getattr(topics, attr)
        assert {address, dead_letter(address)} <= addresses
        message_id = f"{event_type}.v{EVENT_TYPES[event_type].schema_version}"
        assert message_id in doc["channels"][attr]["messages"]
        assert message_id in doc["channels"][f"{attr}.dlq"]["messages"]
        message = doc["components"]["messages"][message_id]
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        data = message["payload"]["allOf"][1]["properties"]
        assert data["type"] == {"const": event_type}
    parked = doc["components"]["messages"]["complaint.received.v1.dead-lettered"]
    assert parked["headers"] == {"$ref": "#/components/schemas/DeadLetterHeaders"}
    assert all(o["action"] in {"send", "receive"} for o in doc["operations"].values())


def test_every_reference_in_the_asyncapi_document_resolves():
    doc = yaml.safe_load(asyncapi_yaml())

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    found = refs(doc)
    assert len(found) > 100
    for ref in found:
        target: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(target, dict) and part in target, f"unresolved {ref}"
            target = target[part]


@pytest.mark.parametrize("service", ["intake", "escalation", "followup", "satisfaction"])
async def test_every_service_serves_the_asyncapi_document(service, monkeypatch):
    monkeypatch.setenv("INTAKE_API_KEYS", "web:unit-test-key")
    module = __import__(f"services.{service}.app", fromlist=["create_app"])
    app = module.create_app()  # no lifespan: nothing connects to a server
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(asyncapi_document()))
