"""Decisions that need authority: approving a handling plan, a compensation above the
requester's limit, and refusing service to an abusive customer (DOMAIN.md, "People").

Any staff member may call these; the case checks the caller's role against the policy
(``approvals`` in the policy file): too low a role is a 403 naming the role needed, a case
whose state does not allow the decision a 409 saying why.

Compensation above one's limit goes through a request and an approval rather than an
approver named on the resolve call: the approver signs in and decides with their own
credential, so the record shows who really approved, and nobody can name a manager who
never saw the request (a store's "ask the duty manager to come and authorise it")."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from services.escalation.api.routes import RESPONSES, Agent, _act, _policy, actor, checked_amount
from services.escalation.api.schemas import CaseView, CompensationIn, Empty, Note, Reason

router = APIRouter(tags=["approvals"])


@router.post("/cases/{complaint_id}/approve-plan", response_model=CaseView, responses=RESPONSES)
async def approve_plan(
    complaint_id: uuid.UUID, request: Request, who: Agent, _: Empty | None = None
) -> CaseView:
    """Approve the plan awaiting approval (by the policy's role for the case's severity, or
    above): the customer is told (`case.plan_approved`, then `case.plan_recorded`)."""
    policy, by = _policy(request), actor(who)
    return await _act(request, complaint_id, lambda c, now: c.approve_plan(policy, by, now), who)


@router.post("/cases/{complaint_id}/reject-plan", response_model=CaseView, responses=RESPONSES)
async def reject_plan(
    complaint_id: uuid.UUID, body: Reason, request: Request, who: Agent
) -> CaseView:
    """Reject the plan with the reason: it must be redrafted (the case is investigating
    again)."""
    policy, by = _policy(request), actor(who)
    return await _act(
        request, complaint_id, lambda c, now: c.reject_plan(policy, by, now, body.reason), who
    )


@router.post(
    "/cases/{complaint_id}/request-compensation", response_model=CaseView, responses=RESPONSES
)
async def request_compensation(
    complaint_id: uuid.UUID, body: CompensationIn, request: Request, who: Agent
) -> CaseView:
    """Ask for approval of a resolution whose compensation is above your limit; someone
    whose limit covers it approves (the case is resolved then) or rejects it."""
    policy, by = _policy(request), actor(who)
    amount = checked_amount(request, body.compensation_amount)
    assert amount is not None
    return await _act(
        request,
        complaint_id,
        lambda c, now: c.request_compensation(
            policy, by, now, body.resolution, body.compensation, amount, body.resolution_kind
        ),
        who,
    )


@router.post(
    "/cases/{complaint_id}/approve-compensation", response_model=CaseView, responses=RESPONSES
)
async def approve_compensation(
    complaint_id: uuid.UUID, request: Request, who: Agent, _: Empty | None = None
) -> CaseView:
    """Approve the requested compensation (your limit must cover it): the resolution goes
    through, `case.resolved` naming you in `compensation_approved_by`."""
    policy, by = _policy(request), actor(who)
    return await _act(
        request, complaint_id, lambda c, now: c.approve_compensation(policy, by, now), who
    )


@router.post(
    "/cases/{complaint_id}/reject-compensation", response_model=CaseView, responses=RESPONSES
)
async def reject_compensation(
    complaint_id: uuid.UUID, body: Reason, request: Request, who: Agent
) -> CaseView:
    policy, by = _policy(request), actor(who)
    return await _act(
        request,
        complaint_id,
        lambda c, now: c.reject_compensation(policy, by, now, body.reason),
        who,
    )


@router.post("/cases/{complaint_id}/flag-abuse", response_model=CaseView, responses=RESPONSES)
async def flag_abuse(complaint_id: uuid.UUID, body: Note, request: Request, who: Agent) -> CaseView:
    """Report abuse of staff by the customer, with what happened (any staff member)."""
    by = actor(who)
    return await _act(request, complaint_id, lambda c, now: c.flag_abuse(by, now, body.note), who)


@router.post("/cases/{complaint_id}/refuse-service", response_model=CaseView, responses=RESPONSES)
async def refuse_service(
    complaint_id: uuid.UUID, body: Reason, request: Request, who: Agent
) -> CaseView:
    """Refuse the customer further service under the company's policy (the policy's role,
    supervisor by default; abuse must be flagged on the case first). The clocks stop;
    `case.service_refused` names the customer, for intake to decide what it does with it."""
    policy, by = _policy(request), actor(who)
    return await _act(
        request, complaint_id, lambda c, now: c.refuse_service(policy, by, now, body.reason), who
    )


@router.post("/cases/{complaint_id}/lift-refusal", response_model=CaseView, responses=RESPONSES)
async def lift_refusal(
    complaint_id: uuid.UUID, body: Reason, request: Request, who: Agent
) -> CaseView:
    """Lift the refusal of service: the clocks run again from where they stopped."""
    policy, by = _policy(request), actor(who)
    return await _act(
        request, complaint_id, lambda c, now: c.lift_refusal(policy, by, now, body.reason), who
    )
