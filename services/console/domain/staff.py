"""Who is signed in: the person, their roles and teams (from escalation's /directory/me)."""

from __future__ import annotations

from dataclasses import dataclass

# Permission roles, lowest first (the staff directory's ranking).
RANKS = ("agent", "team_lead", "supervisor", "customer_relations", "manager", "executive",
         "admin")  # fmt: skip


@dataclass(frozen=True)
class StaffMember:
    person_id: str
    name: str
    roles: tuple[str, ...]
    teams: tuple[str, ...]

    @property
    def rank(self) -> int:
        return max((RANKS.index(r) + 1 for r in self.roles if r in RANKS), default=0)

    def at_least(self, role: str) -> bool:
        return self.rank >= RANKS.index(role) + 1

    def to_session(self) -> dict[str, object]:
        return {"id": self.person_id, "name": self.name, "roles": list(self.roles),
                "teams": list(self.teams)}  # fmt: skip

    @classmethod
    def from_session(cls, raw: dict[str, object]) -> StaffMember:
        return cls(str(raw["id"]), str(raw["name"]), tuple(raw["roles"]), tuple(raw["teams"]))  # type: ignore[arg-type]
