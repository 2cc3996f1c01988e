"""Inputs no service can store, refused for every route at once (a dependency of every app):
a NUL character (PostgreSQL refuses it in text and JSON), a lone surrogate (not encodable as
UTF-8), a number that is not finite (``NaN``, ``Infinity``, ``1e400`` which JSON readers
turn into infinity) or an integer beyond 64 bits. Each is a 422 naming the field, in the
body, the query string, the path or a header, before any model or database sees it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from shared.web.errors import MAX_ERRORS
from shared.web.types import INT64_MAX, INT64_MIN

Loc = tuple[str | int, ...]


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    if "\x00" in text:
        return "must not contain a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (it holds a lone surrogate)"
    return None


def number_problem(number: int | float) -> str | None:
    if isinstance(number, bool):
        return None
    if isinstance(number, float) and not math.isfinite(number):
        return "must be a finite number (NaN, Infinity and numbers beyond 1e308 are refused)"
    if isinstance(number, int) and not INT64_MIN <= number <= INT64_MAX:
        return "must fit in 64 bits"
    return None


def json_problems(value: Any, loc: Loc = ("body",)) -> Iterator[tuple[Loc, str]]:
    """Every unstorable string, key or number in a decoded JSON document, with where it is.
    Iterative: a deeply nested body cannot exhaust the stack."""
    stack: list[tuple[Loc, Any]] = [(loc, value)]
    while stack:
        here, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
        elif isinstance(item, int | float):
            problem = number_problem(item)
        elif isinstance(item, dict):
            problem = None
            for key, child in reversed(item.items()):
                key_problem = text_problem(key) if isinstance(key, str) else None
                if key_problem is not None:
                    yield (*here, key), f"key {key_problem}"
                else:
                    stack.append(((*here, key), child))
        elif isinstance(item, list):
            problem = None
            stack.extend(((*here, i), child) for i, child in reversed(list(enumerate(item))))
        else:
            problem = None
        if problem is not None:
            yield here, problem


def request_problems(request: Request) -> Iterator[tuple[Loc, str]]:
    """Problems in the path, the query string and the headers."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and (problem := text_problem(value)):
            yield ("path", name), problem
    for name, value in request.query_params.multi_items():
        if problem := text_problem(name) or text_problem(value):
            yield ("query", name), problem
    for name, value in request.headers.items():
        if "\x00" in value:
            yield ("header", name), "must not contain a NUL character"


async def refuse_unstorable_input(request: Request) -> None:
    """A dependency of every route (``FastAPI(dependencies=...)``). It runs after FastAPI has
    decoded a JSON body (``request.json()`` returns that decoded copy) and before the body is
    validated against its model, so the models never see what the database would refuse."""
    problems = list(request_problems(request))
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is not None and _is_json(request):
        try:
            body = await request.json()
        except ValueError:
            body = None  # not JSON: FastAPI's own parsing already answered for it
        problems.extend(json_problems(body))
    if problems:
        raise RequestValidationError(
            [
                {"type": "value_error", "loc": loc, "msg": msg, "input": None}
                for loc, msg in problems[:MAX_ERRORS]
            ]
        )


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")
