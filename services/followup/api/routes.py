"""Thin HTTP entry points for the agents: authenticate, validate, call a use case, shape."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from services.followup import usecases
from services.followup.api.schemas import (
    AttemptView,
    CallbackPage,
    CallbackView,
    CustomerView,
    KindSla,
    OutcomeIn,
    RescheduleIn,
    SlaView,
    TierMonth,
)
from services.followup.callbacks import Closed, NotFound, queue_rank
from services.followup.domain.assignment import Taker
from services.followup.domain.outcomes import State
from services.followup.domain.policy import reschedule_problem
from services.followup.domain.tiers import queue_tier
from services.followup.store import repository as repo
from shared.events.common import Tier
from shared.events.followup import CallbackKind
from shared.web.errors import field_error
from shared.web.openapi import responses
from shared.web.ops_auth import Principal, Role, require
from shared.web.pagination import cursor_param
from shared.web.types import IsoDateTime

router = APIRouter(tags=["call-backs"])

Agent = Annotated[Principal, require(Role.AGENT)]


DERIVED = {"callback_id", "history", "tier_now", "queue_tier"}


def _view(c: dict[str, Any], history: list[dict[str, Any]] | None = None) -> CallbackView:
    return CallbackView(
        callback_id=c["id"],
        history=[AttemptView(**a) for a in history] if history is not None else None,
        tier_now=c["tier"],
        queue_tier=queue_tier(
            Tier(c["tier"]), Tier(c["tier_before"]) if c.get("tier_before") else None
        ),
        **{k: c.get(k) for k in CallbackView.model_fields if k not in DERIVED},
    )


@router.get("/callbacks", response_model=CallbackPage)
async def list_callbacks(
    request: Request,
    who: Agent,
    state: Annotated[list[State] | None, Query(description="Repeat for several")] = None,
    due_before: Annotated[IsoDateTime | None, Query(description="With a time zone")] = None,
    tier: Annotated[
        list[Tier] | None,
        Query(description="The customer's value: the higher of the tier now and before a drop"),
    ] = None,
    kind: Annotated[list[CallbackKind] | None, Query()] = None,
    complaint_id: uuid.UUID | None = None,
    team: Annotated[
        str | None, Query(description="A team's queue (staff directory id); `mine`: my teams'")
    ] = None,
    assignee: Annotated[
        str | None, Query(description="A person's call-backs; `me` for the caller's own")
    ] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CallbackPage:
    """The agents' work queue: soonest due first, then the most valuable tier (VIP, A...): the
    higher of the customer's tier now and before a drop (a lapsed A customer stays A)."""
    if due_before is not None and due_before.tzinfo is None:
        raise field_error(("query", "due_before"), "needs a time zone", str(due_before))
    teams = None
    if team == "mine":
        teams = tuple(t.id for t in request.app.state.directory.teams_of(who.person_id))
    elif team is not None:
        if request.app.state.directory.team(team) is None:
            raise field_error(("query", "team"), "no such team in the staff directory", team)
        teams = (team,)
    if assignee == "me":
        assignee = who.person_id
    after = cursor_param(cursor, datetime.fromisoformat, int, uuid.UUID)
    async with request.app.state.runtime.sessions() as session:
        rows, next_cursor = await repo.list_callbacks(
            session,
            states=[s.value for s in state] if state else None,
            due_before=due_before,
            tier_ranks=[queue_rank(t) for t in tier] if tier else None,
            kinds=[k.value for k in kind] if kind else None,
            complaint_id=complaint_id,
            after=after,
            limit=limit,
            teams=teams,
            assignee=assignee,
        )
    return CallbackPage(items=[_view(r) for r in rows], next_cursor=next_cursor)


@router.get("/callbacks/{callback_id}", response_model=CallbackView)
async def get_callback(callback_id: uuid.UUID, request: Request, _: Agent) -> CallbackView:
    async with request.app.state.runtime.sessions() as session:
        callback = await repo.get_callback(session, callback_id)
        if callback is None:
            raise HTTPException(404, "no such call-back")
        history = await repo.get_attempts(session, callback_id)
    return _view(callback, history)


@router.post(
    "/callbacks/{callback_id}/outcome",
    response_model=CallbackView,
    responses=responses(409),
)
async def post_outcome(
    callback_id: uuid.UUID, outcome: OutcomeIn, request: Request, who: Agent
) -> CallbackView:
    """Record a call: not reached (tried again later, until the last attempt), or reached and
    satisfied (done; the survey follows) or not (the complaint is reopened)."""
    problem = outcome.problem()
    if problem is not None:
        raise field_error(("body", "satisfied"), problem, outcome.satisfied)
    state = request.app.state
    try:
        callback = await usecases.record_outcome(
            state.runtime.sessions, state.deps, callback_id, outcome, who.name
        )
    except NotFound:
        raise HTTPException(404, "no such call-back") from None
    except Closed as exc:
        raise HTTPException(409, str(exc)) from None
    return _view(callback)


@router.post(
    "/callbacks/{callback_id}/take",
    response_model=CallbackView,
    responses={401: {}, 403: {}, 404: {}, 409: {}},
)
async def post_take(callback_id: uuid.UUID, request: Request, who: Agent) -> CallbackView:
    """Take the call-back on: it is yours to call (a supervisor may take one somebody holds)."""
    taker = Taker(who.person_id, who.display_name, may_override=who.has(Role.SUPERVISOR))
    try:
        callback = await usecases.take(request.app.state.runtime.sessions, callback_id, taker)
    except NotFound:
        raise HTTPException(404, "no such call-back") from None
    except Closed as exc:
        raise HTTPException(409, str(exc)) from None
    return _view(callback)


@router.post(
    "/callbacks/{callback_id}/reschedule",
    response_model=CallbackView,
    responses=responses(409),
)
async def post_reschedule(
    callback_id: uuid.UUID, wanted: RescheduleIn, request: Request, who: Agent
) -> CallbackView:
    """The customer asked to be called at another time (not counted as an attempt)."""
    state = request.app.state
    problem = reschedule_problem(datetime.now(UTC), wanted.due_at, state.deps.policy)
    if problem is not None:
        raise field_error(("body", "due_at"), problem, wanted.due_at.isoformat())
    try:
        callback = await usecases.reschedule(
            state.runtime.sessions, state.deps, callback_id, wanted, who.name
        )
    except NotFound:
        raise HTTPException(404, "no such call-back") from None
    except Closed as exc:
        raise HTTPException(409, str(exc)) from None
    return _view(callback)


@router.get(
    "/customers/{customer_id}/tiers",
    response_model=CustomerView,
    tags=["retention"],
)
async def get_customer_tiers(customer_id: str, request: Request, _: Agent) -> CustomerView:
    """A customer's monthly visits and tiers as the retention reviews saw them."""
    async with request.app.state.runtime.sessions() as session:
        customer = await repo.get_customer(session, customer_id)
        if customer is None:
            raise HTTPException(404, "no activity recorded for this customer")
        history = await repo.get_tier_history(session, customer_id)
    return CustomerView(
        customer_id=customer_id,
        tier=customer["tier"],
        reviewed_month=customer["reviewed_month"].strftime("%Y-%m")
        if customer["reviewed_month"]
        else None,
        last_activity_month=customer["last_activity_month"].strftime("%Y-%m"),
        months=[
            TierMonth(
                month=h["month"].strftime("%Y-%m"),
                visits=h["visits"],
                tier=h["tier"],
                dropped_from=h["dropped_from"],
            )
            for h in history
        ],
    )


CLOSED_STATES = {State.COMPLETED, State.REOPENED, State.UNREACHABLE}


@router.get("/stats/sla", response_model=SlaView, tags=["statistics"])
async def sla(
    request: Request,
    _: Agent,
    since: Annotated[IsoDateTime | None, Query(description="Call-backs created since")] = None,
) -> SlaView:
    """The call-backs' own SLA: how many were called before they went overdue."""
    if since is not None and since.tzinfo is None:
        raise field_error(("query", "since"), "needs a time zone", str(since))
    async with request.app.state.runtime.sessions() as session:
        rows = await repo.sla_stats(session, since)
    kinds: dict[str, KindSla] = {}
    for row in rows:
        found = kinds.setdefault(
            row["kind"],
            KindSla(kind=row["kind"], by_state={}, overdue_now=0, closed=0, closed_on_time=0,
                    on_time_rate=None),
        )  # fmt: skip
        found.by_state[row["state"]] = row["count"]
        if row["state"] == State.OVERDUE:
            found.overdue_now += row["count"]
        if row["state"] in CLOSED_STATES:
            found.closed += row["count"]
            found.closed_on_time += row["count"] - row["went_overdue"]
    for found in kinds.values():
        found.on_time_rate = found.closed_on_time / found.closed if found.closed else None
    return SlaView(since=since, kinds=sorted(kinds.values(), key=lambda k: k.kind))
