"""The call-back page: the script of what was resolved, the calls so far, and the forms:
take it, record the outcome (reached? satisfied? the customer's words), reschedule."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api.pages import render
from services.console.api.staff import Form, Person, Services, Settings, _signed_out, _token
from services.console.domain.callbacks import FormProblem, outcome_body, reschedule_body
from services.console.store.platform import ApiError, Platform

router = APIRouter()
CallbackId = Annotated[uuid.UUID, Path()]
ACTIONS = ("take", "outcome", "reschedule")


async def _page(
    request: Request, services: Platform, callback_id: str, error: str | None = None,
    done: str | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    try:
        callback = await services.callback(_token(request), callback_id)
    except ApiError as exc:
        if exc.status == 401:
            return _signed_out(request)
        return render(request, "error.html", exc.status if exc.status < 500 else 502,
                      message=exc.message)  # fmt: skip
    return render(request, "callback.html", status_code, cb=callback, error=error, done=done)


@router.get("/callbacks/{callback_id}", response_class=HTMLResponse)
async def callback(
    request: Request, callback_id: CallbackId, person: Person, services: Services
) -> Response:
    return await _page(request, services, str(callback_id), done=request.query_params.get("done"))


@router.post("/callbacks/{callback_id}/{action}")
async def act(
    request: Request, callback_id: CallbackId, action: str, person: Person, services: Services,
    settings: Settings, form: Form,
) -> Response:  # fmt: skip
    if action not in ACTIONS:
        return await _page(request, services, str(callback_id), "No such action.", None, 404)
    try:
        body = (
            outcome_body(form) if action == "outcome"
            else reschedule_body(form, settings.time_zone) if action == "reschedule"
            else None
        )  # fmt: skip
        await services.act_on_callback(_token(request), str(callback_id), action, body)
    except FormProblem as exc:
        return await _page(request, services, str(callback_id), str(exc), None, 422)
    except ApiError as exc:
        if exc.status == 401:
            return _signed_out(request)
        return await _page(request, services, str(callback_id), exc.message, None,
                           exc.status if exc.status < 500 else 502)  # fmt: skip
    return RedirectResponse(f"/callbacks/{callback_id}?done={action}", status_code=303)
