"""Who owns a case: the vocabulary the Case aggregate's assignment rules use, pure.

A case belongs to a team (the one serving its rung of the ladder for its site, category,
channel and severity: the staff directory decides) and, once someone takes it, to a person.
Climbing a rung hands it to the next rung's team; people take, hand over and forward it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol


class TeamRef(Protocol):
    @property
    def id(self) -> str: ...


class Router(Protocol):
    """What routing needs of the staff directory (``shared.directory.Directory`` is one)."""

    def route(
        self,
        rung: str,
        site: str | None = None,
        category: str | None = None,
        channel: str | None = None,
        severity: str | None = None,
    ) -> TeamRef | None: ...


class Remembered:
    """A ``Router`` that remembers its answers (the most recent few thousand questions): the
    staff directory is fixed for the life of the process, and a batch of cases asks it the
    same few questions again and again."""

    def __init__(self, router: Router, size: int = 4096) -> None:
        self.router = router
        self.route = lru_cache(maxsize=size)(router.route)


@dataclass(frozen=True)
class Actor:
    """The person acting: their id (what events record) and display name."""

    id: str
    name: str | None = None
    # Supervisors and above may take or hand over a case someone else holds.
    may_override: bool = False
    # The highest of the person's roles (staff directory names): what they may approve.
    role: str | None = None


@dataclass(frozen=True)
class Handover:
    """To a person (``person``, with their name) or to a team, never both."""

    reason: str
    person: str | None = None
    person_name: str | None = None
    team: str | None = None

    def __post_init__(self) -> None:
        if (self.person is None) == (self.team is None):
            raise ValueError("a handover goes to a person or to a team")
