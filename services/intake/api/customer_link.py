"""The customer's own link ("My complaint"): the token is the only credential. It comes in
a header (``X-Complaint-Link``), never in a URL intake would see in a proxy's log; the
console's page ``/c/<token>`` passes it on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request

from services.intake import links, usecases
from services.intake.api.schemas import MyComplaint, Step
from services.intake.domain.submission import ContactIn
from shared.web.errors import field_error
from shared.web.openapi import responses

router = APIRouter()

UNKNOWN = "unknown link"
EXPIRED = "this link has expired"


async def link_token(
    x_complaint_link: Annotated[str | None, Header(max_length=200)] = None,
) -> str:
    if not x_complaint_link:
        raise HTTPException(401, "missing X-Complaint-Link", headers={"WWW-Authenticate": "Link"})
    return x_complaint_link


LinkToken = Annotated[str, Depends(link_token)]


def _mine(view: links.CustomerView) -> MyComplaint:
    c = view.complaint
    return MyComplaint(
        complaint_id=c["id"],
        reference=str(c["id"]).split("-")[0].upper(),
        status=c["status"],
        category=c["category"],
        received_at=c["received_at"],
        acknowledge_by=c["acknowledge_by"],
        deadlines=c.get("deadlines") or {},
        missing_fields=c["missing_fields"],
        closes_at=view.closes_at,
        rejection_reason=c["rejection_reason"],
        link_expires_at=view.expires_at,
        history=[Step(status=h["status"], at=h["at"]) for h in view.history],
    )


@router.get(
    "/my-complaint",
    response_model=MyComplaint,
    tags=["customer link"],
    responses=responses(401, 404, 410),
)
async def my_complaint(request: Request, token: LinkToken) -> MyComplaint:
    """Where the complaint stands, what happened so far and the promised times."""
    state = request.app.state
    try:
        view = await links.customer_view(
            state.runtime.sessions, state.settings.link_policy(), token
        )
    except links.UnknownLink:
        raise HTTPException(404, UNKNOWN) from None
    except links.LinkExpired:
        raise HTTPException(410, EXPIRED) from None
    return _mine(view)


@router.post(
    "/my-complaint/contact",
    response_model=MyComplaint,
    tags=["customer link"],
    responses=responses(401, 404, 409, 410),
)
async def complete_my_contact(
    contact: ContactIn, request: Request, token: LinkToken
) -> MyComplaint:
    """The contact data the complaint lacks, from the customer: the same rules as the
    channel's ``PATCH /complaints/{id}/customer``; once complete, its clocks start."""
    if not any(getattr(contact, f) for f in ContactIn.model_fields):
        raise field_error(("body",), "give at least one of name, phone, email", None)
    state = request.app.state
    sessions = state.runtime.sessions
    try:
        await links.complete_by_link(
            sessions,
            state.runtime.topics,
            state.policy,
            state.settings.link_policy(),
            token,
            contact,
        )
        view = await links.customer_view(sessions, state.settings.link_policy(), token)
    except links.UnknownLink:
        raise HTTPException(404, UNKNOWN) from None
    except links.LinkExpired:
        raise HTTPException(410, EXPIRED) from None
    except usecases.WrongState as exc:
        raise HTTPException(409, str(exc)) from None
    return _mine(view)
