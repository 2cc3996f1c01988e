"""Thin HTTP entry points: authenticate, validate, call a use case, shape the answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response

from services.intake import usecases
from services.intake.api.schemas import ComplaintAnswer, ComplaintPage, ComplaintView, Rejection
from services.intake.domain.access import ApiClient, Scope
from services.intake.domain.status import Status
from services.intake.domain.submission import ComplaintSubmission, CustomerIn
from services.intake.store import repository as repo
from shared.events.common import Channel
from shared.web.auth import identify
from shared.web.errors import field_error
from shared.web.openapi import responses
from shared.web.pagination import cursor_param

router = APIRouter(tags=["complaints"])


async def api_client(  # async: a plain def would hop to a thread per request
    request: Request, x_api_key: Annotated[str | None, Header()] = None
) -> ApiClient:
    keys = request.app.state.api_keys
    found = identify(x_api_key, ((str(i), k.secret.get_secret_value()) for i, k in enumerate(keys)))
    if found is None:
        raise HTTPException(
            401, "missing or unknown X-API-Key", headers={"WWW-Authenticate": "ApiKey"}
        )
    return keys[int(found)].client


def missing_scope(*scopes: Scope) -> HTTPException:
    names = " or ".join(s.value for s in scopes)
    return HTTPException(403, f"this API key lacks the {names} scope")


async def submitting_channel(client: Annotated[ApiClient, Depends(api_client)]) -> Channel:
    if not client.has(Scope.SUBMIT) or client.channel is None:
        raise missing_scope(Scope.SUBMIT)
    return client.channel


async def reader(client: Annotated[ApiClient, Depends(api_client)]) -> ApiClient:
    if not (client.has(Scope.READ_OWN) or client.has(Scope.READ_ALL)):
        raise missing_scope(Scope.READ_OWN, Scope.READ_ALL)
    return client


ChannelDep = Annotated[Channel, Depends(submitting_channel)]
ReaderDep = Annotated[ApiClient, Depends(reader)]
ClientDep = Annotated[ApiClient, Depends(api_client)]
NOT_FOUND = "no such complaint"


@router.post(
    "/complaints",
    status_code=201,
    response_model=ComplaintAnswer,
    responses=responses(409),
)
async def post_complaint(
    submission: ComplaintSubmission,
    request: Request,
    response: Response,
    channel: ChannelDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ComplaintAnswer:
    state = request.app.state
    if submission.channel is not None and submission.channel != channel:
        raise field_error(
            ("body", "channel"),
            f"does not match the API key's channel ({channel})",
            submission.channel,
        )
    if submission.category not in state.settings.categories:
        raise field_error(
            ("body", "category"),
            f"unknown category; one of {state.settings.categories}",
            submission.category,
        )
    try:
        recorded = await usecases.record_complaint(
            state.runtime.sessions,
            state.runtime.topics,
            state.policy,
            state.settings.rejection_answers,
            submission,
            channel,
            idempotency_key,
            state.settings.chase_policy(),
            getattr(state, "recorder", None),  # None: an app run without its lifespan
        )
    except usecases.IdempotencyConflict:
        raise HTTPException(409, "Idempotency-Key was already used with a different body") from None
    if recorded.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return _answer(recorded.complaint, state.settings.rejection_answers)


def _answer(c: dict[str, Any], answers: dict[str, tuple[str, str]]) -> ComplaintAnswer:
    rejection = None
    if c["rejection_reason"]:
        explanation, other = answers[c["rejection_reason"]]
        rejection = Rejection(
            reason=c["rejection_reason"], explanation=explanation, other_channel=other
        )
        message = f"We recorded your complaint but cannot handle it: {explanation} Instead: {other}"
    elif c["missing_fields"]:
        message = (
            "We recorded your complaint. To handle it we still need: "
            + ", ".join(f.replace("|", " or ") for f in c["missing_fields"])
            + "."
        )
    else:
        message = (
            "Thank you, we recorded your complaint and will acknowledge it by "
            f"{c['acknowledge_by'].isoformat(timespec='minutes')}."
        )
    return ComplaintAnswer(
        complaint_id=c["id"],
        status=c["status"],
        severity=c["severity"],
        severity_reasons=c["severity_reasons"],
        valid=c["valid"],
        received_at=c["received_at"],
        acknowledge_by=c["acknowledge_by"],
        missing_fields=c["missing_fields"],
        rejection=rejection,
        message=message,
    )


def _view(c: dict[str, Any], history: list[dict[str, Any]] | None = None) -> ComplaintView:
    return ComplaintView(
        complaint_id=c["id"],
        history=history,
        **{
            k: c[k]
            for k in ComplaintView.model_fields
            if k in c and k not in {"complaint_id", "history"}
        },
    )


@router.get("/complaints/{complaint_id}", response_model=ComplaintView)
async def get_complaint(
    complaint_id: uuid.UUID, request: Request, client: ReaderDep
) -> ComplaintView:
    """A complaint another channel submitted is a 404 under ``read-own``: its existence is not
    this key's business."""
    async with request.app.state.runtime.sessions() as session:
        complaint = await repo.get_complaint(session, complaint_id)
        if complaint is None or not client.may_read(complaint["channel"]):
            raise HTTPException(404, NOT_FOUND)
        history = await repo.get_history(session, complaint_id)
    return _view(complaint, history)


@router.get("/complaints", response_model=ComplaintPage)
async def list_complaints(
    request: Request,
    client: ReaderDep,
    customer: str | None = None,
    status: Status | None = None,
    channel: Channel | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ComplaintPage:
    after = cursor_param(cursor, datetime.fromisoformat, uuid.UUID)
    if not client.has(Scope.READ_ALL):
        if channel is not None and channel != client.channel:
            raise missing_scope(Scope.READ_ALL)
        channel = client.channel
    async with request.app.state.runtime.sessions() as session:
        rows, next_cursor = await repo.list_complaints(
            session,
            customer_id=customer,
            status=status.value if status else None,
            channel=channel.value if channel else None,
            after=after,
            limit=limit,
        )
    return ComplaintPage(items=[_view(r) for r in rows], next_cursor=next_cursor)


@router.patch(
    "/complaints/{complaint_id}/customer", response_model=ComplaintView, responses=responses(409)
)
async def complete_contact(
    complaint_id: uuid.UUID, contact: CustomerIn, request: Request, client: ClientDep
) -> ComplaintView:
    """Supply the contact data a complaint was missing; its clocks start once complete. The
    channel that submitted the complaint completes it (``submit``); a customer's tier is
    changed only with the ``tier`` scope."""
    supplied = contact.model_fields_set
    if "tier" in supplied and not client.has(Scope.TIER):
        raise missing_scope(Scope.TIER)
    if supplied - {"tier"} and not client.has(Scope.SUBMIT):
        raise missing_scope(Scope.SUBMIT)
    state = request.app.state
    try:
        complaint = await usecases.complete_contact(
            state.runtime.sessions,
            state.runtime.topics,
            state.policy,
            complaint_id,
            contact,
            client,
        )
    except usecases.NotFound:
        raise HTTPException(404, NOT_FOUND) from None
    except usecases.WrongState as exc:
        raise HTTPException(409, str(exc)) from None
    return _view(complaint)
