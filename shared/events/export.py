"""Export the event contracts: ``python -m shared.events.export schemas`` (``make schemas``).

Writes the envelope schema and one JSON Schema per event type (the ``data`` of its
CloudEvent), named ``<type>.v<version>.json``: what a downstream consumer validates against;
the AsyncAPI document of every topic (``asyncapi.yaml``); and freezes each contract version
not yet published under ``published/<topic>/<type>.v<version>.json``.

A published version is never rewritten: a test compares every current schema with it
(``shared.events.compat``, both directions) and fails on a breaking change. To change a
contract incompatibly, bump ``schema_version`` of the model (or move the type to a ``.v2``
topic): the new version is published as a new file, compared with nothing, and the old one
stays committed for the readers still on it. ``--check`` prints the comparison."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from shared.events.asyncapi import asyncapi_document
from shared.events.compat import Change, Compatibility, breaking_changes
from shared.events.envelope import Envelope, schema_uri
from shared.events.registry import EVENT_TOPICS, EVENT_TYPES
from shared.events.topics import Topics

PUBLISHED = "published"
ASYNCAPI = "asyncapi.yaml"
ENVELOPE = "envelope.json"


def schemas() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {ENVELOPE: Envelope.model_json_schema()}
    for event_type, model in sorted(EVENT_TYPES.items()):
        schema = model.model_json_schema()
        schema["title"] = event_type
        schema["x-topic"] = getattr(Topics(), EVENT_TOPICS[event_type])
        schema["$id"] = schema_uri(event_type, model.schema_version)
        out[f"{event_type}.v{model.schema_version}.json"] = schema
    return out


def published_name(name: str, schema: dict[str, Any]) -> str:
    """Where a contract version is frozen: its topic and its type's version name it, so
    either bump (a new ``schema_version`` or a ``.v2`` topic) makes a new contract."""
    return name if name == ENVELOPE else f"{schema['x-topic']}/{name}"


def asyncapi_yaml() -> str:
    return yaml.safe_dump(asyncapi_document(), sort_keys=False, allow_unicode=True, width=100)


class Status(StrEnum):
    UNCHANGED = "unchanged"
    COMPATIBLE = "compatible"
    BREAKING = "breaking"
    UNPUBLISHED = "not yet published"


@dataclass(frozen=True)
class ContractCheck:
    name: str  # the published name, "complaints.intake.v1/complaint.received.v1.json"
    status: Status
    changes: list[Change] = field(default_factory=list)


def check_published(
    folder: Path,
    mode: Compatibility = Compatibility.FULL,
    current: dict[str, dict[str, Any]] | None = None,
) -> list[ContractCheck]:
    """Every current contract against its published version in ``folder/published``."""
    out = []
    for name, schema in (schemas() if current is None else current).items():
        published = published_name(name, schema)
        path = folder / PUBLISHED / published
        if not path.exists():
            out.append(ContractCheck(published, Status.UNPUBLISHED))
            continue
        frozen = json.loads(path.read_text())
        if frozen == schema:
            out.append(ContractCheck(published, Status.UNCHANGED))
            continue
        changes = breaking_changes(frozen, schema, mode)
        status = Status.BREAKING if changes else Status.COMPATIBLE
        out.append(ContractCheck(published, status, changes))
    return out


def retired(folder: Path, current: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Published versions no longer produced (kept for the readers still on them)."""
    names = {published_name(n, s) for n, s in (schemas() if current is None else current).items()}
    root = folder / PUBLISHED
    found = {p.relative_to(root).as_posix() for p in root.rglob("*.json")}
    return sorted(found - names)


def freeze_new(folder: Path) -> list[str]:
    """Publish the contract versions that have no published copy; never rewrites one."""
    written = []
    for name, schema in schemas().items():
        path = folder / PUBLISHED / published_name(name, schema)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_json(schema))
            written.append(published_name(name, schema))
    return written


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    found = schemas()
    for name, schema in found.items():
        (folder / name).write_text(_json(schema))
    (folder / ASYNCAPI).write_text(asyncapi_yaml())
    frozen = freeze_new(folder)
    print(f"wrote {len(found)} schemas and {ASYNCAPI} to {folder}/")
    for name in frozen:
        print(f"published {PUBLISHED}/{name}")


def report(folder: Path) -> int:
    checks = check_published(folder)
    for check in checks:
        if check.status is not Status.UNCHANGED:
            print(f"{check.status.value:>17}  {check.name}")
        for change in check.changes:
            print(f"{'':>19}{change}")
    for name in retired(folder):
        print(f"{'retired':>17}  {name}")
    broken = sum(c.status is Status.BREAKING for c in checks)
    print(f"{len(checks)} contracts, {broken} with breaking changes")
    return 1 if broken else 0


def _json(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.events.export", description=__doc__)
    parser.add_argument("folder", nargs="?", default="schemas")
    parser.add_argument(
        "--check", action="store_true", help="compare with the published versions, write nothing"
    )
    args = parser.parse_args(argv)
    if args.check:
        return report(Path(args.folder))
    write(Path(args.folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
