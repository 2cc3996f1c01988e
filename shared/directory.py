"""The staff directory: people, their roles and how they want to be told, and the teams that
serve each rung of the escalation ladder for some sites, categories, channels and severities.

A YAML file (``STAFF_DIRECTORY_FILE``; the demo one is ``deploy/local/staff.yaml``) checked
when a service starts: a bad file raises ``ConfigError("<file> line N: <where>: <problem>")``.
Every service reads it through this module; it holds no secrets (credentials come from the
identity provider)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.config_files import At, ConfigError, load_yaml_model, parse_yaml_model
from shared.events.common import Channel, Severity

__all__ = [
    "FOLLOWUP_RUNG",
    "ConfigError",
    "Directory",
    "NotifyChannel",
    "Person",
    "StaffRole",
    "Team",
    "directory_file",
    "load_directory",
    "parse_directory",
]

# The rung of teams working the follow-up call-back queue (not a rung of the escalation ladder).
FOLLOWUP_RUNG = "followup"

# Where the demo directory lives; services fall back to it when STAFF_DIRECTORY_FILE is unset.
DEMO_DIRECTORY = Path(__file__).resolve().parent.parent / "deploy" / "local" / "staff.yaml"


class StaffRole(StrEnum):
    """Permission roles, lowest first (``shared.web.ops_auth.Role`` ranks them)."""

    AGENT = "agent"
    TEAM_LEAD = "team_lead"
    SUPERVISOR = "supervisor"
    CUSTOMER_RELATIONS = "customer_relations"
    MANAGER = "manager"
    EXECUTIVE = "executive"
    ADMIN = "admin"


class NotifyChannel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


# Ids appear in URLs, events and ``OPS_TOKENS=person:token``: no spaces, no colons or commas.
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str | None) -> str | None:
    if value is not None and not _EMAIL.match(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


def _url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("https://", "http://")):
        raise ValueError("a webhook is an http(s) URL")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Strict):
    id: Id = Field(description="The person's id: the `sub` of their tokens")
    name: Name
    email: str | None = None
    roles: list[StaffRole] = Field(min_length=1)
    language: Literal["zh-CN", "en"] = "zh-CN"
    notify: list[NotifyChannel] = [NotifyChannel.EMAIL]
    webhook: str | None = None
    active: bool = True

    _check_email = field_validator("email")(_email)
    _check_webhook = field_validator("webhook")(_url)

    def has_role(self, role: StaffRole) -> bool:
        return role in self.roles


class Team(_Strict):
    """Serves one rung of the ladder; an empty filter list means "every"."""

    id: Id
    name: Name
    rung: Annotated[str, StringConstraints(min_length=1)]
    sites: list[str] = []
    categories: list[str] = []
    channels: list[Channel] = []
    severities: list[Severity] = []
    members: list[Id] = []
    email: str | None = None
    webhook: str | None = None
    # A department that cases may be forwarded to (DOMAIN.md: record, explain, forward).
    department: bool = False

    _check_email = field_validator("email")(_email)
    _check_webhook = field_validator("webhook")(_url)

    def serves(
        self,
        rung: str,
        site: str | None,
        category: str | None,
        channel: Channel | str | None,
        severity: Severity | str | None,
    ) -> bool:
        def fits(allowed: Sequence[str], value: str | None) -> bool:
            return not allowed or (value is not None and str(value) in allowed)

        return (
            self.rung == rung
            and fits(self.sites, site)
            and fits(self.categories, category)
            and fits(self.channels, channel)
            and fits(self.severities, severity)
        )

    @property
    def specificity(self) -> tuple[int, bool, bool, bool, bool]:
        """How narrowly the team is drawn: the number of filters, then site over category over
        channel over severity."""
        narrowed = (
            bool(self.sites),
            bool(self.categories),
            bool(self.channels),
            bool(self.severities),
        )
        return (sum(narrowed), *narrowed)


class Directory(_Strict):
    people: list[Person] = []
    teams: list[Team] = []

    @cached_property
    def _people(self) -> dict[str, Person]:
        return {p.id: p for p in self.people}

    @cached_property
    def _teams(self) -> dict[str, Team]:
        return {t.id: t for t in self.teams}

    def person(self, person_id: str) -> Person | None:
        return self._people.get(person_id)

    def team(self, team_id: str) -> Team | None:
        return self._teams.get(team_id)

    def members(self, team_id: str) -> list[Person]:
        team = self.team(team_id)
        if team is None:
            return []
        return [self._people[m] for m in team.members if m in self._people]

    def teams_of(self, person_id: str) -> list[Team]:
        return [t for t in self.teams if person_id in t.members]

    def route(
        self,
        rung: str,
        site: str | None = None,
        category: str | None = None,
        channel: Channel | str | None = None,
        severity: Severity | str | None = None,
    ) -> Team | None:
        """The most specific team serving ``rung`` for this case; among equally specific ones
        the first in the file. None when no team serves it."""
        best: Team | None = None
        for team in self.teams:
            if team.serves(rung, site, category, channel, severity) and (
                best is None or team.specificity > best.specificity
            ):
                best = team
        return best

    def departments(self) -> list[Team]:
        return [t for t in self.teams if t.department]


def _cross_checks(rungs: Sequence[str] | None):
    def check(directory: Directory) -> None:
        seen: set[str] = set()
        for i, person in enumerate(directory.people):
            if person.id in seen:
                raise At(("people", i, "id"), f"person {person.id!r} is listed twice")
            seen.add(person.id)
            if NotifyChannel.EMAIL in person.notify and person.email is None:
                raise At(("people", i, "notify"), "notified by email but has no email")
            if NotifyChannel.WEBHOOK in person.notify and person.webhook is None:
                raise At(("people", i, "notify"), "notified by webhook but has no webhook")
        teams: set[str] = set()
        for i, team in enumerate(directory.teams):
            if team.id in teams:
                raise At(("teams", i, "id"), f"team {team.id!r} is listed twice")
            teams.add(team.id)
            if rungs is not None and team.rung not in rungs:
                raise At(
                    ("teams", i, "rung"),
                    f"unknown rung {team.rung!r}; the ladder is {', '.join(rungs)}",
                )
            for j, member in enumerate(team.members):
                if member not in seen:
                    raise At(("teams", i, "members", j), f"no person {member!r} in people")

    return check


def parse_directory(
    text: str, source: str = "<staff directory>", rungs: Sequence[str] | None = None
) -> Directory:
    return parse_yaml_model(text, Directory, source, _cross_checks(rungs), "staff directory")


def load_directory(path: Path | str, rungs: Sequence[str] | None = None) -> Directory:
    """Read and check the directory; with ``rungs`` (the policy's ladder) every team's rung
    must be one of them."""
    return load_yaml_model(Path(path), Directory, _cross_checks(rungs), "staff directory")


def directory_file(configured: str | Path | None = None) -> Path:
    """The directory to load: the one configured, else ``STAFF_DIRECTORY_FILE``, else the demo
    directory shipped with the project."""
    chosen = configured or os.environ.get("STAFF_DIRECTORY_FILE") or DEMO_DIRECTORY
    return Path(chosen)
