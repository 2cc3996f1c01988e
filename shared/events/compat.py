"""Compatibility of event schemas: a new JSON Schema of an event against its published version.

Two kinds of reader meet every event version, so both directions count (FULL by default):

- readers of the published version that are not yet upgraded read new events (FORWARD):
  a removed field, a field no longer required, a widened type or an added enum value breaks
  them (pydantic readers reject a value outside their enum or type);
- upgraded readers read old events still on the topics, or replay them (BACKWARD): a new
  required field, a narrowed type or a removed enum value breaks them.

Readers are tolerant of unknown fields, so an added optional field is compatible and whether
an object is closed (``additionalProperties: false``) is no part of the contract. A rename
is a removal plus an addition. Annotations (titles, descriptions, defaults, ``x-``
extensions) are ignored. Local ``$ref`` s (``#/$defs/...``) are resolved.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Schema = Mapping[str, Any]


class Compatibility(StrEnum):
    BACKWARD = "backward"  # new readers can read old events
    FORWARD = "forward"  # old readers can read new events
    FULL = "full"  # both


class ChangeKind(StrEnum):
    REMOVED = "field removed"
    NEWLY_REQUIRED = "field newly required"
    NO_LONGER_REQUIRED = "field no longer required"
    NARROWED = "type narrowed"
    WIDENED = "type widened"
    ENUM_REMOVED = "enum value removed"
    ENUM_ADDED = "enum value added"

    @property
    def breaks(self) -> Compatibility:
        """Which readers the change breaks."""
        if self in (ChangeKind.NEWLY_REQUIRED, ChangeKind.NARROWED, ChangeKind.ENUM_REMOVED):
            return Compatibility.BACKWARD
        return Compatibility.FORWARD


@dataclass(frozen=True)
class Change:
    path: str  # where in the event data: "customer.tier", "documents[].name"
    kind: ChangeKind
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.path or '(root)'}: {self.kind}" + (
            f" ({self.detail})" if self.detail else ""
        )


def breaking_changes(
    published: Schema, new: Schema, mode: Compatibility = Compatibility.FULL
) -> list[Change]:
    """The changes from ``published`` to ``new`` that break readers under ``mode``."""
    changes = _Comparison(published, new).run()
    if mode is Compatibility.FULL:
        return changes
    return [c for c in changes if c.kind.breaks is mode]


# Bounds: a higher lower bound or a lower upper bound narrows.
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
# Any change of these narrows some values and widens others.
_EXACT = ("pattern", "format", "multipleOf", "contentEncoding", "contentMediaType")
_UNION_KEYS = ("anyOf", "oneOf")
_MAX_DEPTH = 24


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root

    def run(self) -> list[Change]:
        return list(self._node("", self.old_root, self.new_root))

    # -- structure

    def _node(self, path: str, old: Schema, new: Schema) -> Iterator[Change]:
        old_branches = _by_kind(self._branches(old, self.old_root))
        new_branches = _by_kind(self._branches(new, self.new_root))
        if "any" in new_branches and "any" not in old_branches:
            yield Change(path, ChangeKind.WIDENED, "now any value")
            return
        if "any" in old_branches:
            if "any" not in new_branches:
                yield Change(path, ChangeKind.NARROWED, f"any value -> {_kinds(new_branches)}")
            return
        for kind in old_branches.keys() - new_branches.keys():
            if not (kind == "integer" and "number" in new_branches):
                yield Change(path, ChangeKind.NARROWED, f"{kind} no longer accepted")
        for kind in new_branches.keys() - old_branches.keys():
            if kind == "number" and "integer" in old_branches:
                yield Change(path, ChangeKind.WIDENED, "integer -> number")
            else:
                yield Change(path, ChangeKind.WIDENED, f"{kind} now accepted")
        for kind in sorted(old_branches.keys() & new_branches.keys()):
            yield from self._same_kind(path, kind, old_branches[kind], new_branches[kind])

    def _same_kind(self, path: str, kind: str, old: Schema, new: Schema) -> Iterator[Change]:
        if path.count(".") + path.count("[") > _MAX_DEPTH:  # a recursive model: deep enough
            return
        yield from _enums(path, old, new)
        yield from _constraints(path, old, new)
        if kind == "object":
            yield from self._object(path, old, new)
        elif kind == "array":
            old_items, new_items = old.get("items"), new.get("items")
            if isinstance(old_items, Mapping) and isinstance(new_items, Mapping):
                yield from self._node(f"{path}[]", old_items, new_items)

    def _object(self, path: str, old: Schema, new: Schema) -> Iterator[Change]:
        old_props: Mapping[str, Schema] = old.get("properties", {})
        new_props: Mapping[str, Schema] = new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        for name in old_props:
            where = f"{path}.{name}" if path else name
            if name not in new_props:
                yield Change(where, ChangeKind.REMOVED)
                continue
            if name in new_required and name not in old_required:
                yield Change(where, ChangeKind.NEWLY_REQUIRED)
            elif name in old_required and name not in new_required:
                yield Change(where, ChangeKind.NO_LONGER_REQUIRED)
            yield from self._node(where, old_props[name], new_props[name])
        for name in sorted(new_required - old_props.keys()):
            yield Change(f"{path}.{name}" if path else name, ChangeKind.NEWLY_REQUIRED, "new")
        # A map (dict[str, X]): its values are compared like a field's.
        old_values, new_values = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_values, Mapping) and isinstance(new_values, Mapping):
            yield from self._node(f"{path}{{*}}", old_values, new_values)

    # -- schema plumbing

    def _branches(self, node: Schema, root: Schema) -> list[Schema]:
        """The alternatives a value may match, each resolved, unions and type lists flattened."""
        node = _resolve(node, root)
        for key in _UNION_KEYS:
            if key in node:
                out: list[Schema] = []
                for branch in node[key]:
                    out.extend(self._branches(branch, root))
                return out
        if "allOf" in node and len(node["allOf"]) == 1:  # pydantic's wrapped $ref
            return self._branches(node["allOf"][0], root)
        types = node.get("type")
        if isinstance(types, list):
            return [{**node, "type": t} for t in types]
        return [node]


def _resolve(node: Schema, root: Schema) -> Schema:
    seen: set[str] = set()
    while "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
            raise ValueError(f"cannot resolve $ref {ref!r}: only local references are supported")
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **siblings}
    return node


def _kind(node: Schema) -> str:
    kind = node.get("type")
    if isinstance(kind, str):
        return kind
    if "properties" in node or "additionalProperties" in node:
        return "object"
    if "items" in node:
        return "array"
    values = node.get("enum", [node["const"]] if "const" in node else None)
    if values:
        return _json_kind(values[0])
    return "any"


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _by_kind(branches: list[Schema]) -> dict[str, Schema]:
    out: dict[str, Schema] = {}
    for branch in branches:
        out.setdefault(_kind(branch), branch)  # two branches of one kind: the first counts
    return out


def _kinds(branches: Mapping[str, Schema]) -> str:
    return "|".join(sorted(branches))


def _enum(node: Schema) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    return list(node["enum"]) if "enum" in node else None


def _enums(path: str, old: Schema, new: Schema) -> Iterator[Change]:
    old_values, new_values = _enum(old), _enum(new)
    if old_values is None and new_values is None:
        return
    if new_values is None:
        yield Change(path, ChangeKind.WIDENED, "no longer an enumeration")
        return
    if old_values is None:
        yield Change(path, ChangeKind.NARROWED, f"now one of {new_values}")
        return
    for value in old_values:
        if value not in new_values:
            yield Change(path, ChangeKind.ENUM_REMOVED, repr(value))
    for value in new_values:
        if value not in old_values:
            yield Change(path, ChangeKind.ENUM_ADDED, repr(value))


def _constraints(path: str, old: Schema, new: Schema) -> Iterator[Change]:
    for key in _LOWER_BOUNDS + _UPPER_BOUNDS:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        tighter = before is None or (
            after is not None and (after > before if key in _LOWER_BOUNDS else after < before)
        )
        kind = ChangeKind.NARROWED if tighter else ChangeKind.WIDENED
        yield Change(path, kind, f"{key} {before} -> {after}")
    for key in _EXACT:
        before, after = old.get(key), new.get(key)
        if before != after:
            kind = ChangeKind.WIDENED if after is None else ChangeKind.NARROWED
            yield Change(path, kind, f"{key} {before!r} -> {after!r}")
