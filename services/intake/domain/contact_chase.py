"""Chasing the contact data an incomplete complaint lacks, pure: reminders after receipt,
then closed as unreachable (DOMAIN.md 004 art. 6: incomplete data is recorded and the
customer asked to complete it). The times are configuration (INTAKE_CONTACT_REMINDERS,
INTAKE_CLOSE_UNREACHABLE_AFTER)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

REMINDER = "contact_reminder"
CLOSE = "close_unreachable"
KINDS = [REMINDER, CLOSE]


@dataclass(frozen=True)
class ChasePolicy:
    reminders: tuple[timedelta, ...] = (timedelta(days=1), timedelta(days=3))
    close_after: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        if list(self.reminders) != sorted(self.reminders):
            raise ValueError("reminders must be in increasing order")
        if self.reminders and self.reminders[-1] >= self.close_after:
            raise ValueError("every reminder must come before the complaint is closed")


@dataclass(frozen=True)
class Step:
    kind: str
    due_at: datetime
    reminder: int  # 1, 2 ... for reminders; 0 for closing


def schedule(received_at: datetime, policy: ChasePolicy) -> list[Step]:
    """The timers an incomplete complaint gets when it is recorded."""
    steps = [
        Step(REMINDER, received_at + after, number)
        for number, after in enumerate(policy.reminders, start=1)
    ]
    return [*steps, Step(CLOSE, closes_at(received_at, policy), 0)]


def closes_at(received_at: datetime, policy: ChasePolicy) -> datetime:
    return received_at + policy.close_after
