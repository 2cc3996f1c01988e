"""What the pages need, gathered from the services (the console keeps no state of its own
beyond the session). Each use case takes the platform client and the person's token."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.console.domain.actions import BY_NAME, body_of
from services.console.domain.overview import Overview, overview
from services.console.domain.staff import StaffMember
from services.console.domain.work import QueueCase, QueueFilters, by_nearest_deadline
from services.console.store.platform import ApiError, Platform


@dataclass
class MyWork:
    cases: list[QueueCase]
    callbacks: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)


async def my_work(platform: Platform, token: str, filters: QueueFilters) -> MyWork:
    """My cases and my teams' queues in one list, nearest deadline first; the call-backs due
    for me or my teams. A service that does not answer is named, the rest still shown."""
    query = filters.query()
    mine, teams, callbacks_mine, callbacks_team = await asyncio.gather(
        platform.cases(token, assignee="me", **query),
        platform.cases(token, team="mine", **query),
        platform.callbacks(token, assignee="me"),
        platform.callbacks(token, team="mine"),
        return_exceptions=True,
    )
    problems = [
        str(r) for r in (mine, teams, callbacks_mine, callbacks_team) if isinstance(r, ApiError)
    ]
    cases = by_nearest_deadline(
        *[[QueueCase.of(c) for c in r] for r in (mine, teams) if isinstance(r, list)]
    )
    seen: dict[str, dict[str, Any]] = {}
    for found in (callbacks_mine, callbacks_team):
        if isinstance(found, list):
            for cb in found:
                seen.setdefault(str(cb["callback_id"]), cb)
    callbacks = sorted(seen.values(), key=lambda cb: cb["due_at"])
    for r in (mine, teams, callbacks_mine, callbacks_team):
        if isinstance(r, BaseException) and not isinstance(r, ApiError):
            raise r
    return MyWork(cases, callbacks, problems)


@dataclass
class CasePage:
    case: dict[str, Any]
    complaint: dict[str, Any] | None
    messages: list[dict[str, Any]] | None
    teams: list[dict[str, Any]]
    problems: list[str]


async def case_page(platform: Platform, token: str, complaint_id: str) -> CasePage:
    """The case (an ApiError when it cannot be read), with what the other services add."""
    case = await platform.case(token, complaint_id)
    complaint, messages, teams = await asyncio.gather(
        platform.complaint(complaint_id),
        platform.messages(token, complaint_id),
        platform.teams(token),
        return_exceptions=True,
    )
    problems = [str(r) for r in (complaint, messages, teams) if isinstance(r, ApiError)]
    for r in (complaint, messages, teams):
        if isinstance(r, BaseException) and not isinstance(r, ApiError):
            raise r
    return CasePage(
        case=case,
        complaint=complaint if isinstance(complaint, dict) else None,
        messages=messages if isinstance(messages, list) else None,
        teams=teams if isinstance(teams, list) else [],
        problems=problems,
    )


class NotOffered(Exception):
    """An action the person's role does not allow, or no such action."""


async def act_on_case(
    platform: Platform,
    token: str,
    person: StaffMember,
    complaint_id: str,
    action: str,
    form: dict[str, str],
) -> dict[str, Any]:
    chosen = BY_NAME.get(action)
    if chosen is None or not person.at_least(chosen.role):
        raise NotOffered(action)
    return await platform.act(token, complaint_id, action, body_of(chosen, form))


async def supervisor_overview(
    platform: Platform, token: str, time_zone: str, now: datetime, ladder: tuple[str, ...]
) -> tuple[Overview, list[str]]:
    """The figures; what a service could not give is named and left out."""
    cases, sla, satisfaction = await asyncio.gather(
        platform.all_cases(token), platform.sla(token), platform.satisfaction_summary(token),
        return_exceptions=True,
    )  # fmt: skip
    found = [cases, sla, satisfaction]
    for r in found:
        if isinstance(r, BaseException) and not isinstance(r, ApiError):
            raise r
    problems = [str(r) for r in found if isinstance(r, ApiError)]
    listed, complete = cases if isinstance(cases, tuple) else ([], False)
    return overview(
        listed, complete, sla if isinstance(sla, dict) else None,
        satisfaction if isinstance(satisfaction, dict) else None, time_zone, now, ladder,
    ), problems  # fmt: skip
