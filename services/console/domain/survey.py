"""The survey page's words: the six levels of DOMAIN.md, best first (score 6..1)."""

from __future__ import annotations

LEVELS: tuple[tuple[str, str], ...] = (
    ("very_satisfied", "Very satisfied: I would buy from you again"),
    ("satisfied", "Satisfied: I would probably buy from you again"),
    ("neutral", "Neither satisfied nor dissatisfied"),
    ("resigned", "I put up with it, for now"),
    ("dissatisfied", "Dissatisfied"),
    ("very_dissatisfied", "Very dissatisfied: I will tell others"),
)
LEVEL_NAMES = frozenset(name for name, _ in LEVELS)

FACTOR_LABELS = {
    "speed": "How quickly it was handled",
    "attitude": "The staff's attitude",
    "solution": "The solution",
    "compensation": "The compensation",
    "communication": "How we kept you informed",
    "follow_up": "The follow-up",
    "product": "The product itself",
    "other": "Something else",
}
