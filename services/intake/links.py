"""The customer's own link ("My complaint"): the token is the only credential, looked up by
its hash (notify mints the token and publishes the hash in ``customer_link.issued``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.domain import contact_chase
from services.intake.domain.customer_link import (
    LinkPolicy,
    LinkState,
    expires_at,
    link_state,
    token_digest,
)
from services.intake.domain.rules import IntakePolicy
from services.intake.domain.status import Status
from services.intake.domain.submission import ContactIn
from services.intake.store import repository as repo
from services.intake.usecases import complete
from shared import timers
from shared.events.envelope import Envelope
from shared.events.notify import CustomerLinkIssued
from shared.events.topics import Topics

log = logging.getLogger(__name__)


class UnknownLink(Exception):
    """No complaint has this link (never issued, mistyped, or not yet known here)."""


class LinkExpired(Exception):
    """The link's complaint was closed too long ago, or its personal data was erased."""


@dataclass(frozen=True)
class CustomerView:
    complaint: dict[str, Any]
    history: list[dict[str, Any]]
    expires_at: datetime | None
    closes_at: datetime | None  # when an incomplete complaint will be closed as unreachable


def _check_link(complaint: dict[str, Any], link_policy: LinkPolicy) -> None:
    state = link_state(
        complaint["status"],
        complaint["status_changed_at"],
        complaint.get("anonymised_at") is not None,
        datetime.now(UTC),
        link_policy,
    )
    if state == LinkState.EXPIRED:
        raise LinkExpired


async def customer_view(
    sessions: async_sessionmaker[AsyncSession], link_policy: LinkPolicy, token: str
) -> CustomerView:
    async with sessions() as session:
        complaint_id = await repo.complaint_of_link(session, token_digest(token))
        complaint = await repo.get_complaint(session, complaint_id) if complaint_id else None
        if complaint is None:
            raise UnknownLink
        _check_link(complaint, link_policy)
        history = await repo.get_history(session, complaint["id"])
        closes_at = None
        if complaint["status"] == Status.AWAITING_INFORMATION:
            pending = await timers.pending(session, str(complaint["id"]))
            closes_at = next((t.due_at for t in pending if t.kind == contact_chase.CLOSE), None)
    until = expires_at(complaint["status"], complaint["status_changed_at"], link_policy)
    return CustomerView(complaint, history, until, closes_at)


async def remember_link(session: AsyncSession, event: Envelope) -> None:
    """Consumer handler (complaints.notify.v1): a link notify sent; only its hash is here."""
    issued = CustomerLinkIssued.model_validate(
        {k: v for k, v in event.data.items() if k in CustomerLinkIssued.model_fields}
    )
    added = await repo.add_customer_link(
        session, issued.token_sha256, issued.complaint_id, issued.at
    )
    if not added:
        log.info(
            "customer link for an unknown complaint, or known already",
            extra={"complaint_id": str(issued.complaint_id)},
        )


async def complete_by_link(
    sessions: async_sessionmaker[AsyncSession],
    topics: Topics,
    policy: IntakePolicy,
    link_policy: LinkPolicy,
    token: str,
    contact: ContactIn,
) -> dict[str, Any]:
    """The customer completes their own contact data through their link: the same rules as
    the channel's path; the link is the only credential."""
    async with sessions.begin() as session:
        complaint_id = await repo.complaint_of_link(session, token_digest(token))
        if complaint_id is None:
            raise UnknownLink
        complaint = await repo.lock_complaint(session, complaint_id)
        if complaint is None:
            raise UnknownLink
        _check_link(complaint, link_policy)
        supplied = contact.model_dump(exclude_unset=True, exclude_none=True, mode="json")
        completed = await complete(session, topics, policy, complaint, supplied)
    log.info(
        "contact data completed by the customer's link",
        extra={"complaint_id": str(complaint_id), "status": completed["status"]},
    )
    return completed
