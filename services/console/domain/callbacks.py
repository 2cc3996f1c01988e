"""A call-back's forms in the API's terms: the outcome of a call and a new time asked for;
the tier it is queued under."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

RESULTS = ("satisfied", "not_satisfied", "not_reached")


class FormProblem(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def outcome_body(form: dict[str, str]) -> dict[str, Any]:
    result = form.get("result", "")
    if result not in RESULTS:
        raise FormProblem("result", "say whether the customer was reached, and satisfied")
    body: dict[str, Any] = {"reached": result != "not_reached"}
    if result != "not_reached":
        body["satisfied"] = result == "satisfied"
        words = (form.get("customer_words") or "").strip()
        if words:
            body["customer_words"] = words
    note = (form.get("note") or "").strip()
    if note:
        body["note"] = note
    return body


def reschedule_body(form: dict[str, str], time_zone: str) -> dict[str, Any]:
    """``due_at`` from the form's local date and time (``datetime-local``, the site's zone)."""
    raw = (form.get("due_at") or "").strip()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise FormProblem("due_at", "a date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(time_zone))
    body: dict[str, Any] = {"due_at": moment.isoformat()}
    reason = (form.get("reason") or "").strip()
    if reason:
        body["reason"] = reason
    return body


@dataclass(frozen=True)
class CallbackTier:
    """The tier that orders the call-back queue, and the customer's tier now when it differs:
    a lapsed A customer's retention call-back stays A in the queue ("A (now C)")."""

    queue: str
    now: str | None = None

    @classmethod
    def of(cls, callback: Mapping[str, Any]) -> CallbackTier:
        # A follow-up without queue_tier/tier_now (older replica) gives only ``tier``.
        now = callback.get("tier_now") or callback.get("tier") or ""
        queue = callback.get("queue_tier") or now
        return cls(queue, now if now and now != queue else None)
