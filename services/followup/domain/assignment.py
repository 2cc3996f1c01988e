"""Who works a call-back: it sits in a team's queue (the staff directory routes it) until a
person takes it. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from services.followup.domain.outcomes import OPEN_STATES, State


@dataclass(frozen=True)
class Taker:
    id: str
    name: str | None = None
    may_override: bool = False  # supervisors and above may take one somebody else holds


def take_problem(state: State, assignee: str | None, who: Taker) -> str | None:
    """Why ``who`` may not take the call-back, or None when they may."""
    if state not in OPEN_STATES:
        return f"the call-back is {state.value}"
    if assignee == who.id:
        return "you hold this call-back already"
    if assignee is not None and not who.may_override:
        return f"{assignee} holds this call-back"
    return None
