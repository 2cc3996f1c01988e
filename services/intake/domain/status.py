"""A complaint's status as intake shows it, following the other services' events."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    RECEIVED = "received"
    AWAITING_INFORMATION = "awaiting_information"
    REJECTED = "rejected"
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    PLAN_RECORDED = "plan_recorded"
    PAUSED = "paused"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    SUSPENDED = "suspended"
    CLOSED = "closed"
    CLOSED_UNREACHABLE = "closed_unreachable"  # the contact data never came


# Event types that move the status; others (warnings, escalations) leave it as it is.
STATUS_BY_EVENT: dict[str, Status] = {
    "case.opened": Status.OPEN,
    "case.acknowledged": Status.ACKNOWLEDGED,
    "case.investigated": Status.INVESTIGATING,
    "case.plan_recorded": Status.PLAN_RECORDED,
    "case.paused": Status.PAUSED,
    "case.resolved": Status.RESOLVED,
    "case.reopened": Status.REOPENED,
    "case.suspended": Status.SUSPENDED,
    "case.closed": Status.CLOSED,
    "complaint.reopened": Status.REOPENED,
}


# Resuming returns the complaint to whatever it was before the pause.
RESUME_EVENT = "case.resumed"


def status_after(event_type: str) -> Status | None:
    return STATUS_BY_EVENT.get(event_type)
