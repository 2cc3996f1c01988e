"""Thin HTTP entry points: authenticate, validate, call a use case, shape the answer.

Who may do what: any ops role (agent and up) reads cases and works them, including passing a
case up the ladder (DOMAIN.md: whoever lacks the authority passes it up at once), taking,
handing over and forwarding it; suspending or ending a case and the statistics need a
supervisor, as does taking or handing over a case somebody else holds. Decisions that need
authority by the policy (approving a plan, a compensation above one's limit, refusing
service) are checked by the case itself: 403 naming the role needed (``api/approvals.py``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from services.escalation.api.schemas import (
    CasePage,
    CaseView,
    Empty,
    Ending,
    Findings,
    ForwardIn,
    HandoverIn,
    MoneyIn,
    Plan,
    Rate,
    Reason,
    Resolution,
    SlaStats,
    Suspension,
)
from services.escalation.domain.assignment import Actor, Handover
from services.escalation.domain.authority import Amount, NotPermitted
from services.escalation.domain.case import Forbidden, Status
from services.escalation.store import repository as repo
from services.escalation.usecases import Action, Escalation, NotFound
from shared.directory import Directory
from shared.events.common import Severity, Tier
from shared.web.errors import field_error
from shared.web.openapi import responses
from shared.web.ops_auth import Principal, Role, require
from shared.web.pagination import cursor_param
from shared.web.types import IsoDateTime

router = APIRouter(tags=["cases"])

Agent = Annotated[Principal, require(Role.AGENT)]
Supervisor = Annotated[Principal, require(Role.SUPERVISOR)]
RESPONSES = responses(409)  # the rest follow from each operation's shape


@router.get("/cases", response_model=CasePage, responses=RESPONSES)
async def list_cases(
    request: Request,
    who: Agent,
    status: Status | None = None,
    level: str | None = None,
    tier: Tier | None = None,
    severity: Severity | None = None,
    overdue: bool | None = None,
    breached: bool | None = None,
    awaiting_approval: Annotated[
        bool | None, Query(description="Cases whose plan or compensation awaits approval")
    ] = None,
    team: Annotated[
        str | None, Query(description="A team's queue (staff directory id); `mine`: my teams'")
    ] = None,
    assignee: Annotated[
        str | None, Query(description="A person's cases; `me` for the caller's own")
    ] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    levels = request.app.state.policy.levels
    if level is not None and level not in levels:
        raise field_error(("query", "level"), f"unknown level; one of {list(levels)}", level)
    teams = queues(_directory(request), team, who)
    if assignee == "me":
        assignee = who.person_id
    after = cursor_param(cursor, datetime.fromisoformat, uuid.UUID)
    found = repo.CaseFilter(
        status=status.value if status else None,
        level=level,
        tier=tier.value if tier else None,
        severity=severity.value if severity else None,
        overdue=overdue,
        breached=breached,
        teams=teams,
        assignee=assignee,
        awaiting_approval=awaiting_approval,
    )
    async with request.app.state.runtime.sessions() as session:
        cases, next_cursor = await repo.list_cases(session, found, after, limit)
    return CasePage(items=[CaseView.of(c) for c in cases], next_cursor=next_cursor)


@router.get("/cases/{complaint_id}", response_model=CaseView, responses=RESPONSES)
async def get_case(complaint_id: uuid.UUID, request: Request, _: Agent) -> CaseView:
    async with request.app.state.runtime.sessions() as session:
        case = await repo.get_case(session, complaint_id)
        if case is None:
            raise HTTPException(404, "no case for this complaint")
        timeline = await repo.get_timeline(session, complaint_id)
    return CaseView.of(case, timeline)


def queues(directory: Directory, team: str | None, who: Principal) -> tuple[str, ...] | None:
    """The teams whose queues ``?team=`` asks for: one team, or ``mine`` (the caller's)."""
    if team is None:
        return None
    if team == "mine":
        return tuple(t.id for t in directory.teams_of(who.person_id))
    if directory.team(team) is None:
        raise field_error(("query", "team"), "no such team in the staff directory", team)
    return (team,)


def _directory(request: Request) -> Directory:
    return request.app.state.directory


def actor(who: Principal) -> Actor:
    role = who.role.name.lower() if who.role is not None else None
    return Actor(who.person_id, who.display_name, may_override=who.has(Role.SUPERVISOR), role=role)


async def _act(
    request: Request, complaint_id: uuid.UUID, action: Action, who: Principal | None = None
) -> CaseView:
    escalation: Escalation = request.app.state.escalation
    try:
        case = await escalation.act(complaint_id, action, actor(who) if who else None)
    except NotFound:
        raise HTTPException(404, "no case for this complaint") from None
    except Forbidden as exc:
        raise HTTPException(409, str(exc)) from None
    except NotPermitted as exc:
        raise HTTPException(403, str(exc).replace("{id}", str(complaint_id))) from None
    return CaseView.of(case)


def _policy(request: Request):
    return request.app.state.policy


@router.post("/cases/{complaint_id}/acknowledge", response_model=CaseView, responses=RESPONSES)
async def acknowledge(
    complaint_id: uuid.UUID, request: Request, who: Agent, _: Empty | None = None
) -> CaseView:
    policy = _policy(request)
    return await _act(
        request, complaint_id, lambda c, now: c.acknowledge(policy, who.name, now), who
    )


@router.post("/cases/{complaint_id}/investigate", response_model=CaseView, responses=RESPONSES)
async def investigate(
    complaint_id: uuid.UUID, body: Findings, request: Request, who: Agent
) -> CaseView:
    """Record the investigation findings."""
    policy = _policy(request)
    return await _act(
        request,
        complaint_id,
        lambda c, now: c.investigate(policy, who.name, now, body.findings),
        who,
    )


@router.post("/cases/{complaint_id}/plan", response_model=CaseView, responses=RESPONSES)
async def record_plan(
    complaint_id: uuid.UUID, body: Plan, request: Request, who: Agent
) -> CaseView:
    """Record the handling plan told to the customer. Where the policy wants plans of the
    case's severity approved and the caller lacks the approving role, the plan waits for
    approval instead (status `plan_awaiting_approval`, the `approval` clock runs)."""
    policy, by = _policy(request), actor(who)
    return await _act(
        request,
        complaint_id,
        lambda c, now: c.record_plan(policy, who.name, now, body.plan, by),
        who,
    )


@router.post("/cases/{complaint_id}/resolve", response_model=CaseView, responses=RESPONSES)
async def resolve(
    complaint_id: uuid.UUID, body: Resolution, request: Request, who: Agent
) -> CaseView:
    """Resolve the case. A `compensation_amount` above the caller's limit (policy) is a 403
    naming the limit and the role that may grant it: ask with `request-compensation`."""
    policy, by = _policy(request), actor(who)
    amount = checked_amount(request, body.compensation_amount)
    return await _act(
        request,
        complaint_id,
        lambda c, now: c.resolve(
            policy,
            who.name,
            now,
            body.resolution,
            body.compensation,
            amount,
            by,
            resolution_kind=body.resolution_kind,
        ),
        who,
    )


def checked_amount(request: Request, money: MoneyIn | None) -> Amount | None:
    """The amount, in the currency the policy's limits are in (else a 422 naming it)."""
    if money is None:
        return None
    currency = _policy(request).authority.compensation.currency
    if money.currency != currency:
        raise field_error(("body", "compensation_amount", "currency"),
                          f"compensation limits are in {currency}", money.currency)  # fmt: skip
    return money.to_amount()


@router.post("/cases/{complaint_id}/escalate", response_model=CaseView, responses=RESPONSES)
async def escalate(complaint_id: uuid.UUID, body: Reason, request: Request, who: Agent) -> CaseView:
    """Escalate by hand one level up, with the reason."""
    policy = _policy(request)
    return await _act(
        request, complaint_id, lambda c, now: c.escalate(policy, who.name, now, body.reason), who
    )


@router.post("/cases/{complaint_id}/pause", response_model=CaseView, responses=RESPONSES)
async def pause(complaint_id: uuid.UUID, body: Reason, request: Request, who: Agent) -> CaseView:
    """Pause while waiting on the customer: the clocks stop."""
    policy = _policy(request)
    return await _act(
        request, complaint_id, lambda c, now: c.pause(policy, who.name, now, body.reason), who
    )


@router.post("/cases/{complaint_id}/resume", response_model=CaseView, responses=RESPONSES)
async def resume(
    complaint_id: uuid.UUID, request: Request, who: Agent, _: Empty | None = None
) -> CaseView:
    policy = _policy(request)
    return await _act(request, complaint_id, lambda c, now: c.resume(policy, who.name, now), who)


@router.post("/cases/{complaint_id}/suspend", response_model=CaseView, responses=RESPONSES)
async def suspend(
    complaint_id: uuid.UUID, body: Suspension, request: Request, who: Supervisor
) -> CaseView:
    """Moved to a court or an outside body: handling stops."""
    policy = _policy(request)
    return await _act(
        request,
        complaint_id,
        lambda c, now: c.suspend(policy, who.name, now, body.outcome, body.note),
        who,
    )


@router.post("/cases/{complaint_id}/end", response_model=CaseView, responses=RESPONSES)
async def end(complaint_id: uuid.UUID, body: Ending, request: Request, who: Supervisor) -> CaseView:
    """End the case: moved to court or an outside body, or the contract ended by agreement."""
    policy = _policy(request)
    return await _act(
        request,
        complaint_id,
        lambda c, now: c.end(policy, who.name, now, body.outcome, body.note),
        who,
    )


@router.post("/cases/{complaint_id}/take", response_model=CaseView, responses=RESPONSES)
async def take(
    complaint_id: uuid.UUID, request: Request, who: Agent, _: Empty | None = None
) -> CaseView:
    """Take the case on: it is yours until you hand it over (or it climbs a rung)."""
    return await _act(request, complaint_id, lambda c, now: c.take(actor(who), now), who)


@router.post("/cases/{complaint_id}/handover", response_model=CaseView, responses=RESPONSES)
async def hand_over(
    complaint_id: uuid.UUID, body: HandoverIn, request: Request, who: Agent
) -> CaseView:
    """Hand the case to a colleague or back to a team's queue, with the reason."""
    directory = _directory(request)
    if body.to_person is not None:
        person = directory.person(body.to_person)
        if person is None or not person.active:
            raise field_error(("body", "to_person"), "no such person in the staff directory",
                              body.to_person)  # fmt: skip
        to = Handover(body.reason, person=person.id, person_name=person.name)
    else:
        if directory.team(body.to_team or "") is None:
            raise field_error(("body", "to_team"), "no such team in the staff directory",
                              body.to_team)  # fmt: skip
        to = Handover(body.reason, team=body.to_team)
    return await _act(request, complaint_id, lambda c, now: c.hand_over(to, actor(who), now), who)


@router.post("/cases/{complaint_id}/forward", response_model=CaseView, responses=RESPONSES)
async def forward(
    complaint_id: uuid.UUID, body: ForwardIn, request: Request, who: Agent
) -> CaseView:
    """Forward the case to the department responsible (DOMAIN.md: record, explain, forward),
    with the time the customer will get the answer."""
    departments = {t.id for t in _directory(request).departments()}
    if body.to_team not in departments:
        raise field_error(("body", "to_team"), f"not a department; one of {sorted(departments)}",
                          body.to_team)  # fmt: skip
    if body.answer_by is not None and body.answer_by <= datetime.now(UTC):
        raise field_error(("body", "answer_by"), "must be in the future",
                          body.answer_by.isoformat())  # fmt: skip
    return await _act(
        request,
        complaint_id,
        lambda c, now: c.forward(body.to_team, body.reason, body.answer_by, actor(who), now),
        who,
    )


@router.get("/stats/sla", response_model=SlaStats, responses=RESPONSES, tags=["statistics"])
async def sla_stats(
    request: Request,
    _: Supervisor,
    start: Annotated[IsoDateTime | None, Query(alias="from")] = None,
    end: Annotated[IsoDateTime | None, Query(alias="to")] = None,
) -> SlaStats:
    """The timely-handling rate of the clocks decided in [from, to) (default: the last 30
    days), per clock and per level. Clock "ladder" is a level's time on the on-site ladder."""
    end = _aware(end) if end else datetime.now(UTC)
    start = _aware(start) if start else end - timedelta(days=30)
    if start >= end:
        raise field_error(("query", "from"), "must be before 'to'", start.isoformat())
    async with request.app.state.runtime.sessions() as session:
        per_clock = await repo.sla_stats(session, start, end, "clock")
        per_level = await repo.sla_stats(session, start, end, "level")
    total = sum(r["total"] for r in per_clock)
    on_time = sum(r["on_time"] for r in per_clock)
    return SlaStats(
        start=start,
        end=end,
        overall=_rate("all", total, on_time),
        per_clock=[_rate(r["key"], r["total"], r["on_time"]) for r in per_clock],
        per_level=[_rate(r["key"], r["total"], r["on_time"]) for r in per_level],
    )


def _rate(key: str, total: int, on_time: int) -> Rate:
    return Rate(key=key, total=total, on_time=on_time, rate=on_time / total if total else None)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
