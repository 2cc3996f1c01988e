"""YAML configuration files (the policies) read into pydantic models, checked at start-up:
a bad file raises ``ConfigError("<file> line N: <a.b.c>: <problem>")``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    pass


class At(Exception):
    """Raised by a cross-check to name where in the file a problem is."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def parse_yaml_model(
    text: str,
    model: type[M],
    source: str,
    checks: Callable[[M], None] | None = None,
    what: str = "configuration",
) -> M:
    """``what`` names the file in messages ("policy")."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}{line}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source} line 1: the {what} must be a mapping of settings")
    try:
        found = model.model_validate(data)
        if checks is not None:
            checks(found)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = tuple(p for p in error["loc"] if not str(p).startswith(("function-", "[key]")))
        message = error["msg"].removeprefix("Value error, ")
        if "[key]" in error["loc"]:
            message = f"not a valid key: {message}"
        raise ConfigError(_locate(source, root, path, message, what)) from None
    except At as exc:
        raise ConfigError(_locate(source, root, exc.path, exc.message, what)) from None
    return found


def load_yaml_model(
    path: Path,
    model: type[M],
    checks: Callable[[M], None] | None = None,
    what: str = "configuration",
) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} file: {exc.strerror}") from None
    return parse_yaml_model(text, model, str(path), checks, what)


def _locate(
    source: str, root: yaml.Node | None, path: tuple[Any, ...], message: str, what: str
) -> str:
    """``source line N: a.b.c: message``, N being the line of the deepest node of ``path``
    found in the document (the parent's line when a key is missing)."""
    node, line = root, 1
    if node is not None:
        line = node.start_mark.line + 1
    for part in path:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    where = ".".join(str(p) for p in path) or what
    return f"{source} line {line}: {where}: {message}"
