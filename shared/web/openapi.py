"""The statuses each operation can answer, in its OpenAPI document.

Routes declare what only they know (``responses=responses(409, 410)``: a state conflict, a
survey gone). What follows from the operation's shape is added here for every service, so no
route copies it: a body can be unreadable (400), too large (413) or invalid (422); any
parameter can be invalid (422); a credential can be missing or wrong (401) or not allow the
operation (403); a path names something that may not exist (404); and the database can be
unavailable (503, with Retry-After)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from shared.web.errors import ErrorBody, ValidationErrorBody

DESCRIPTIONS = {
    400: "The body could not be read (not UTF-8, nested too deep, a number too long)",
    401: "Missing or unknown credential",
    403: "The credential does not allow this",
    404: "Not found",
    409: "In conflict with the current state (the reason is in the detail)",
    410: "Gone: no longer valid",
    413: "The body is larger than this service accepts",
    422: "Invalid input: each problem names its field",
    503: "The database is unavailable; nothing was recorded, retry after Retry-After seconds",
}

# Operations that reach no database: their shape says nothing about a 503.
NO_DATABASE = {"/healthz"}
AUTH_HEADERS = {"authorization", "x-api-key"}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the statuses only it knows it can answer."""
    return {
        code: {
            "model": ValidationErrorBody if code == 422 else ErrorBody,
            "description": DESCRIPTIONS[code],
        }
        for code in codes
    }


def shape_statuses(path: str, operation: dict[str, Any]) -> set[int]:
    """The statuses an operation can answer by its shape alone."""
    params = operation.get("parameters", [])
    found: set[int] = set()
    if "requestBody" in operation:
        found |= {400, 413, 422}
    if params:
        found.add(422)
    headers = {p["name"].lower() for p in params if p.get("in") == "header"}
    if operation.get("security") or headers & AUTH_HEADERS:
        found |= {401, 403}
    if any(p.get("in") == "path" for p in params):
        found.add(404)
    if path not in NO_DATABASE:
        found.add(503)
    return found


def document_statuses(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the shape statuses (and the error bodies' schemas) to an OpenAPI document."""
    ref = "#/components/schemas/{model}"
    _, defs = models_json_schema(
        [(ErrorBody, "validation"), (ValidationErrorBody, "validation")], ref_template=ref
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in defs.get("$defs", {}).items():
        components.setdefault(name, definition)
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            answers = operation["responses"]
            for code in sorted(shape_statuses(path, operation)):
                model = "ValidationErrorBody" if code == 422 else "ErrorBody"
                answer = {
                    "description": DESCRIPTIONS[code],
                    "content": {"application/json": {"schema": {"$ref": ref.format(model=model)}}},
                }
                if code == 503:
                    answer["headers"] = {
                        "Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}
                    }
                if code == 422 or str(code) not in answers:
                    answers[str(code)] = answer
    return schema


def install_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Make ``app.openapi()`` return the document with the shape statuses."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_statuses(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return openapi
