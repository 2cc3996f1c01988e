"""Export the event contracts as JSON Schema: ``python -m shared.events.export schemas``.

Writes the envelope schema and one schema per event type (the ``data`` of its CloudEvent),
named ``<type>.v<version>.json``: what a downstream consumer validates against."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.events.envelope import Envelope
from shared.events.registry import EVENT_TOPICS, EVENT_TYPES
from shared.events.topics import Topics


def schemas() -> dict[str, dict]:
    out = {"envelope.json": Envelope.model_json_schema()}
    for event_type, model in sorted(EVENT_TYPES.items()):
        schema = model.model_json_schema()
        schema["title"] = event_type
        schema["x-topic"] = getattr(Topics(), EVENT_TOPICS[event_type])
        if len(also := getattr(model, "published_on", ())) > 1:
            schema["x-topics"] = [getattr(Topics(), topic) for topic in also]
        schema["$id"] = f"urn:complaint-platform:schema:{event_type}:v{model.schema_version}"
        out[f"{event_type}.v{model.schema_version}.json"] = schema
    return out


def main(target: str) -> None:
    folder = Path(target)
    folder.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas().items():
        (folder / name).write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(schemas())} schemas to {folder}/")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "schemas")
