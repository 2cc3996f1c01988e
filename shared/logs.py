"""JSON logs, one object per line.

Logs carry ids, never personal data. The mechanism is what code logs: ids in ``extra``,
exceptions described by type and SQLSTATE (``describe_error``), never a request body, a
customer's JSON or a statement's parameters (engines hide them: ``shared.db``). The masking of
phone numbers and e-mail addresses below is the last line of defence for whatever slips
through (a message, an argument or an extra field), not the mechanism."""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.exc import StatementError

from shared.messaging import connectivity

# Internationalised too: local part and domain in any script (李娜@例子.中国).
_EMAIL = re.compile(r"([\w.%+-])[\w.%+-]*@((?:[\w-]+\.)+[^\W\d_]{2,})")
# What looks like a phone number but is not one: UUIDs (even when their first group is all
# digits), long hex digests, ISO dates and timestamps, IPv4 addresses with a port. Matched
# first at any position and kept as they are.
_KEEP = (
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?<![0-9A-Za-z])(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{24,}(?![0-9A-Za-z])"
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?(?!\d)"
    r"|\d{4}/\d{1,2}/\d{1,2}(?!\d)"
    r"|(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?![\d.])"
)
# Seven or more digits, optionally grouped by spaces, dots, slashes, dashes or brackets, with
# an optional leading +: phone numbers in the formats customers type them, also glued to a
# word (tel15902448012, 电话132448088877).
_PHONE = r"\+?\(?\d(?:[ ().\/-]{0,3}\d){6,}"
_SCAN = re.compile(rf"(?P<keep>{_KEEP})|(?<!\d)(?P<phone>{_PHONE})(?!\d)")
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _mask(match: re.Match[str]) -> str:
    if match.group("keep"):
        return match.group(0)
    return "***" + re.sub(r"\D", "", match.group(0))[-2:]


def redact(text: str) -> str:
    """Mask e-mail addresses and phone numbers, keeping just enough to tell them apart."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _SCAN.sub(_mask, text)


def describe_error(exc: BaseException) -> str:
    """An exception as logs may show it: its type and what locates the problem, never the
    input. Database errors name their SQLSTATE (their messages and details quote values);
    validation errors name their fields (pydantic's message quotes the input)."""
    name = type(exc).__name__
    sqlstate = _sqlstate(exc)
    if sqlstate is not None or _is_database_error(exc):
        orig = getattr(exc, "orig", None)
        cause = getattr(orig, "__cause__", None) or orig
        inner = f" {type(cause).__name__}" if cause is not None else ""
        return f"{name}:{inner} (SQLSTATE {sqlstate or 'unknown'})"
    if isinstance(exc, ValidationError):
        fields = sorted({".".join(str(p) for p in e["loc"]) or "(root)" for e in exc.errors()})
        return f"{name}: {exc.error_count()} error(s) at {', '.join(fields)}"
    return f"{name}: {redact(str(exc))[:500]}"


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (exc, getattr(exc, "orig", None), getattr(exc, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def _is_database_error(exc: BaseException) -> bool:
    # A statement's errors (their messages quote parameters) and the driver's own.
    return isinstance(exc, StatementError) or type(exc).__module__.startswith("asyncpg")


def format_exception(exc: BaseException) -> str:
    """A traceback with every exception of the chain described by ``describe_error``: the
    frames say where, and no message that could quote a customer's data is printed."""
    chain: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link: str | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "The above exception was the direct cause of"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "During handling of the above exception"
        else:
            current = None
    parts: list[str] = []
    for error, joined_by in reversed(chain):
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(error.__traceback__))
        parts.append(describe_error(error) + "\n")
        if joined_by:
            parts.append(f"\n{joined_by} the following exception:\n\n")
    return "".join(parts).rstrip("\n")


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, BaseException):
        return describe_error(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = _redact_value(value)
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = redact(format_exception(record.exc_info[1]))
        try:
            return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # what orjson refuses (an integer beyond 64 bits, say)
            return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    connectivity.install(handler)  # one line per Kafka outage, not aiokafka's every retry
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Route uvicorn's own loggers through the same formatter.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
