"""The staff directory, read-only: teams with their members, people (their e-mail is
personal data: any staff credential may read it, nobody without one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request

from services.escalation.api.schemas import PersonBrief, PersonView, TeamView
from shared.directory import Directory, Person, Team
from shared.web.ops_auth import Principal, Role, require

router = APIRouter(prefix="/directory", tags=["staff directory"])

Agent = Annotated[Principal, require(Role.AGENT)]
RESPONSES = {401: {}, 403: {}, 404: {}}


def _directory(request: Request) -> Directory:
    return request.app.state.directory


def _team(directory: Directory, team: Team) -> TeamView:
    return TeamView(
        id=team.id,
        name=team.name,
        rung=team.rung,
        sites=team.sites,
        categories=team.categories,
        channels=[c.value for c in team.channels],
        severities=[s.value for s in team.severities],
        department=team.department,
        email=team.email,
        members=[
            PersonBrief(id=p.id, name=p.name, roles=[r.value for r in p.roles])
            for p in directory.members(team.id)
        ],
    )


def _person(directory: Directory, person: Person) -> PersonView:
    return PersonView(
        id=person.id,
        name=person.name,
        email=person.email,
        roles=[r.value for r in person.roles],
        language=person.language,
        active=person.active,
        teams=[t.id for t in directory.teams_of(person.id)],
    )


@router.get("/teams", response_model=list[TeamView], responses=RESPONSES)
async def list_teams(
    request: Request, _: Agent, rung: str | None = None, department: bool | None = None
) -> list[TeamView]:
    """Every team (or those serving ``rung``; ``department=true``: the departments a case can
    be forwarded to), with its members."""
    directory = _directory(request)
    return [
        _team(directory, t)
        for t in directory.teams
        if (rung is None or t.rung == rung) and (department is None or t.department == department)
    ]


@router.get("/teams/{team_id}", response_model=TeamView, responses=RESPONSES)
async def get_team(team_id: str, request: Request, _: Agent) -> TeamView:
    directory = _directory(request)
    team = directory.team(team_id)
    if team is None:
        raise HTTPException(404, "no such team")
    return _team(directory, team)


@router.get("/me", response_model=PersonView, responses=RESPONSES)
async def me(request: Request, who: Agent) -> PersonView:
    """The caller, as the directory knows them."""
    return await get_person(who.person_id, request, who)


@router.get("/people/{person_id}", response_model=PersonView, responses=RESPONSES)
async def get_person(person_id: str, request: Request, _: Agent) -> PersonView:
    directory = _directory(request)
    person = directory.person(person_id)
    if person is None:
        raise HTTPException(404, "no such person in the staff directory")
    return _person(directory, person)
