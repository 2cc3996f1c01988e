"""What notify does, each step in the caller's transaction: write the messages an event
causes (with the inbox record of that event), invite to a survey, retry a parked message."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notify.domain import recipients as who
from services.notify.domain.messages import (
    Draft,
    Recipient,
    Status,
    Template,
    not_before,
)
from services.notify.domain.quiet_hours import QuietHours
from services.notify.domain.recipients import Contact
from services.notify.rendering import Renderer
from services.notify.settings import NotifySettings
from services.notify.store import repository as repo
from shared.directory import Directory
from shared.events.envelope import Envelope, new_event
from shared.events.notify import (
    CustomerLinkIssued,
    DeliveryChannel,
    RecipientKind,
    SurveyInvited,
)
from shared.events.topics import Topics
from shared.messaging import outbox

log = logging.getLogger(__name__)

SOURCE = "/complaint-platform/notify"

WRITTEN = Counter("notify_messages_written_total", "Messages written", ["template", "channel"])
NOBODY = Counter(
    "notify_no_recipient_total", "Events nobody could be told of (no address, no team)", ["cause"]
)


@dataclass(frozen=True)
class Deps:
    topics: Topics
    settings: NotifySettings
    directory: Directory
    renderer: Renderer
    quiet: QuietHours
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


class NotFound(Exception):
    pass


class NotFailed(Exception):
    """Only a message parked as failed can be retried."""


def reference(complaint_id: uuid.UUID | None) -> str:
    """The short reference customers and staff read (the complaint id's first block)."""
    return str(complaint_id).split("-")[0].upper() if complaint_id else ""


async def write(
    session: AsyncSession,
    deps: Deps,
    event: Envelope,
    complaint_id: uuid.UUID | None,
    template: Template,
    recipients: list[Recipient],
    context: dict[str, Any],
) -> int:
    """Render ``template`` for each recipient (in their language) and write the messages."""
    if not recipients:
        NOBODY.labels(event.type).inc()
        log.warning(
            "nobody to tell",
            extra={"event_id": str(event.id), "type": event.type, "template": template.value},
        )
        return 0
    now = deps.clock()
    base = {"complaint_id": complaint_id, "reference": reference(complaint_id)} | context
    drafts = []
    for recipient in recipients:
        values = base | {"recipient_name": who.display_name(deps.directory, recipient)}
        drafts.append(
            Draft(
                cause_event_id=event.id,
                cause_type=event.type,
                complaint_id=complaint_id,
                key=event.subject,
                recipient=recipient,
                template=template,
                content=deps.renderer.render(template, recipient.language, values),
                not_before=not_before(recipient, now, deps.quiet),
            )
        )
    written = await repo.add_messages(session, drafts, now)
    for draft in drafts:
        WRITTEN.labels(template.value, draft.recipient.channel.value).inc()
    log.info(
        "messages written",
        extra={"event_id": str(event.id), "template": template.value, "count": written},
    )
    return written


async def contact_of(session: AsyncSession, complaint_id: uuid.UUID) -> Contact | None:
    found = await repo.get_contact(session, complaint_id)
    if found is None:
        return None
    return Contact(found["name"], found["email"], found["phone"], found["language"])


async def tell_customer(
    session: AsyncSession,
    deps: Deps,
    event: Envelope,
    complaint_id: uuid.UUID,
    template: Template,
    context: dict[str, Any],
    contact: Contact | None = None,
    with_link: bool = False,
) -> int:
    """``contact``: when the caller has just written it (saves a look-up). ``with_link``: the
    message carries a fresh "My complaint" link (``my_link``), minted only when someone is
    there to receive it."""
    contact = contact or await contact_of(session, complaint_id)
    recipients = who.customer(
        contact,
        deps.settings.customer_channels,
        deps.settings.sms_gateway_url is not None,
        deps.settings.default_language,
    )
    name = contact.name if contact else None
    extra: dict[str, Any] = {"name": name, "my_link": None}
    if with_link and recipients and deps.settings.customer_link_base:
        extra["my_link"] = await issue_customer_link(session, deps, complaint_id)
    return await write(session, deps, event, complaint_id, template, recipients, extra | context)


async def issue_customer_link(session: AsyncSession, deps: Deps, complaint_id: uuid.UUID) -> str:
    """A fresh token for the customer's "My complaint" page, as with surveys: in clear only
    in the customer's message; its hash goes to intake in ``customer_link.issued`` (through
    the outbox, in the transaction that writes the message)."""
    now = deps.clock()
    token = secrets.token_urlsafe(32)
    issued = CustomerLinkIssued(
        complaint_id=complaint_id,
        token_sha256=hashlib.sha256(token.encode()).hexdigest(),
        at=now,
    )
    await outbox.add(
        session, deps.topics.notify, [new_event(SOURCE, str(complaint_id), issued, time=now)]
    )
    return deps.settings.customer_link_base + token


async def invite_to_survey(
    session: AsyncSession,
    deps: Deps,
    event: Envelope,
    survey_id: uuid.UUID,
    complaint_id: uuid.UUID,
    contact: Contact | None = None,
) -> None:
    """A fresh single-use token: in clear only in the customer's link; its hash goes to the
    satisfaction service in ``survey.invited`` (through the outbox, with the messages)."""
    now = deps.clock()
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    expires_at = now + timedelta(seconds=deps.settings.survey_valid_seconds)
    fresh = await repo.add_survey(
        session,
        {
            "survey_id": survey_id,
            "complaint_id": complaint_id,
            "token_sha256": digest,
            "expires_at": expires_at,
            "created_at": now,
        },
    )
    if not fresh:
        log.info("survey already invited", extra={"survey_id": str(survey_id)})
        return
    invited = SurveyInvited(
        survey_id=survey_id,
        complaint_id=complaint_id,
        token_sha256=digest,
        expires_at=expires_at,
        at=now,
    )
    await outbox.add(
        session, deps.topics.notify, [new_event(SOURCE, str(complaint_id), invited, time=now)]
    )
    link = deps.settings.survey_link_base + token
    context = {"link": link, "expires_at": expires_at}
    await tell_customer(session, deps, event, complaint_id, Template.SURVEY, context, contact)


# ---- parked messages ---------------------------------------------------------------------


def _recipient_of(message: dict[str, Any]) -> Recipient:
    return Recipient(
        RecipientKind(message["recipient_kind"]),
        message["recipient"],
        DeliveryChannel(message["channel"]),
        message["language"],
    )


async def retry(
    sessions: async_sessionmaker[AsyncSession], deps: Deps, message_id: uuid.UUID
) -> dict[str, Any]:
    """A failed message goes back to pending with a fresh round of attempts (an SMS to a
    customer still waits out the quiet hours)."""
    async with sessions.begin() as session:
        message = await repo.get_message(session, message_id, lock=True)
        if message is None:
            raise NotFound
        if message["status"] != Status.FAILED:
            raise NotFailed(f"the message is {message['status']}, not failed")
        now = deps.clock()
        changes = {
            "status": Status.PENDING.value,
            "attempts": 0,
            "next_attempt_at": not_before(_recipient_of(message), now, deps.quiet),
            "failed_at": None,
            "updated_at": now,
        }
        await repo.update_message(session, message_id, changes)
    log.info("message retried", extra={"message_id": str(message_id)})
    return message | changes


async def retry_all_failed(
    sessions: async_sessionmaker[AsyncSession], deps: Deps, complaint_id: uuid.UUID | None = None
) -> int:
    async with sessions() as session:
        ids = await repo.failed_ids(session, complaint_id)
    done = 0
    for message_id in ids:
        try:
            await retry(sessions, deps, message_id)
            done += 1
        except (NotFound, NotFailed):
            continue  # retried or delivered meanwhile
    return done
