"""When to raise a satisfaction alert: once on falling below target, again only after the
dimension recovered (rate back at or above target)."""

from __future__ import annotations

from enum import StrEnum


class Decision(StrEnum):
    FIRE = "fire"
    RECOVER = "recover"
    NONE = "none"


def decide(
    alerting: bool, answers: int, satisfied: int, target: float, min_answers: int
) -> Decision:
    if answers < min_answers:
        return Decision.NONE  # too few answers to say anything: keep the state as it is
    below = satisfied / answers < target - 1e-12
    if below and not alerting:
        return Decision.FIRE
    if not below and alerting:
        return Decision.RECOVER
    return Decision.NONE
