"""Reading a satisfaction level as customers and agents give it: a name or a score 6..1."""

from __future__ import annotations

from shared.events.common import SatisfactionLevel

LEVELS = list(SatisfactionLevel)  # best first
NAMES = [level.value for level in LEVELS]


def parse_level(raw: object) -> SatisfactionLevel:
    """``"satisfied"``, ``"Very satisfied"``, ``5`` or ``"5"``; ValueError otherwise."""
    if isinstance(raw, bool):
        raise ValueError("a level is a name or a score 6..1")
    if isinstance(raw, int):
        return SatisfactionLevel.from_score(raw)
    if isinstance(raw, str):
        text = raw.strip().lower().replace(" ", "_").replace("-", "_")
        if text.isdigit():
            return SatisfactionLevel.from_score(int(text))
        try:
            return SatisfactionLevel(text)
        except ValueError:
            pass
    raise ValueError(f"a level is one of {NAMES} or a score 6..1")


def clean_factors(raw: list[str], allowed: list[str]) -> list[str]:
    """The named factors, normalised and deduplicated in order; ValueError names a stranger."""
    found: list[str] = []
    for item in raw:
        name = item.strip().lower().replace(" ", "_")
        if name not in allowed:
            raise ValueError(f"unknown factor {item!r}; one of {allowed}")
        if name not in found:
            found.append(name)
    return found
