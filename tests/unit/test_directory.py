"""The staff directory: the demo file loads, routing picks the most specific team, bad files
name their line."""

from __future__ import annotations

import pytest

from shared.directory import (
    DEMO_DIRECTORY,
    FOLLOWUP_RUNG,
    ConfigError,
    StaffRole,
    load_directory,
    parse_directory,
)

LADDER = [
    "frontline",
    "team_lead",
    "supervisor",
    "customer_relations",
    "department_manager",
    "executive_office",
    FOLLOWUP_RUNG,
]


@pytest.fixture(scope="module")
def demo():
    return load_directory(DEMO_DIRECTORY, rungs=LADDER)


def test_demo_directory_has_every_role_and_every_rung(demo) -> None:
    roles = {role for person in demo.people for role in person.roles}
    assert roles == set(StaffRole)
    assert {team.rung for team in demo.teams} == set(LADDER)
    assert len(demo.departments()) >= 2


def test_route_prefers_the_team_of_the_site(demo) -> None:
    assert demo.route("team_lead", "store-1", "x", "counter", "general").id == "store1-team-leads"
    assert demo.route("team_lead", "store-2", "x", "counter", "general").id == "store2-team-leads"
    # No site: the team serving every site.
    assert demo.route("team_lead", None, "x", "web", "general").id == "remote-leads"
    assert demo.route("supervisor", "store-9", "x", "web", "major").id == "remote-duty"


def test_route_prefers_the_department_of_the_category(demo) -> None:
    assert demo.route("department_manager", None, "product_quality").id == "dept-appliances"
    assert demo.route("department_manager", None, "food").id == "dept-furniture"


def test_route_none_when_no_team_serves_the_rung(demo) -> None:
    assert demo.route("nobody_serves_this", "store-1") is None


def test_route_filters_on_channel_and_severity() -> None:
    directory = parse_directory(
        """
people: []
teams:
  - {id: any, name: Any, rung: r}
  - {id: major-hotline, name: M, rung: r, channels: [hotline], severities: [major]}
  - {id: major, name: M, rung: r, severities: [major]}
"""
    )
    assert directory.route("r", None, "c", "hotline", "major").id == "major-hotline"
    assert directory.route("r", None, "c", "web", "major").id == "major"
    assert directory.route("r", None, "c", "hotline", "general").id == "any"


def test_members_and_teams_of_a_person(demo) -> None:
    assert [p.id for p in demo.members("store1-frontline")] == ["frontline-li"]
    assert {t.id for t in demo.teams_of("lead-zhang")} >= {"store1-team-leads", "remote-leads"}
    assert demo.members("no-such-team") == []
    assert demo.person("exec-zhao").name == "Zhao Lei"
    assert demo.person("nobody") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("people:\n  - id: a\n    name: A\n    roles: [boss]\n", "line 4: people.0.roles.0"),
        (
            "people:\n  - {id: a, name: A, roles: [agent], email: a@x.test}\n"
            "teams:\n  - id: t\n    name: T\n    rung: frontline\n    members: [a, b]\n",
            "line 7: teams.0.members.1: no person 'b' in people",
        ),
        (
            "people: []\nteams:\n  - id: t\n    name: T\n    rung: nowhere\n",
            "line 5: teams.0.rung: unknown rung 'nowhere'",
        ),
        (
            "people:\n  - {id: a, name: A, roles: [agent], email: a@x.test}\n"
            "  - {id: a, name: B, roles: [agent], email: b@x.test}\n",
            "line 3: people.1.id: person 'a' is listed twice",
        ),
        (
            "people:\n  - id: a\n    name: A\n    roles: [agent]\n    notify: [webhook]\n",
            "line 5: people.0.notify: notified by webhook but has no webhook",
        ),
        ("people:\n  - id: 'a b'\n    name: A\n    roles: [agent]\n", "line 2: people.0.id"),
        ("people: [\n", "not valid YAML"),
    ],
)
def test_bad_directory_names_the_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"^staff\.yaml line") as caught:
        parse_directory(text, "staff.yaml", rungs=LADDER)
    assert expected in str(caught.value)
