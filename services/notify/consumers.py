"""Event handlers: each event becomes the messages it causes, written in the transaction that
records the event in the inbox (a redelivery writes nothing; a repeated cause is stopped by
the messages' unique constraint). Readers are tolerant: fields they do not know are ignored,
fields added later (``site``, ``survey_id``) are read when present."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import usecases
from services.notify.domain import recipients as who
from services.notify.domain.messages import Recipient, Template, language_of
from services.notify.domain.recipients import Contact
from services.notify.store import repository as repo
from services.notify.usecases import Deps, tell_customer, write
from shared.events.common import ContactCard
from shared.events.envelope import Envelope
from shared.events.followup import FollowupDue
from shared.events.handling import (
    AssignmentReason,
    CaseAssigned,
    CaseCompensationRequested,
    CaseEscalated,
    CaseForwarded,
    CaseOpened,
    CasePauseOverdue,
    CasePlanRecorded,
    CasePlanSubmitted,
    CaseResolved,
    CaseSlaBreached,
    CaseSlaWarning,
)
from shared.events.intake import (
    ComplaintClosedUnreachable,
    ComplaintCompleted,
    ComplaintContactReminderDue,
    ComplaintReceived,
    Customer,
    SubjectKind,
)

M = TypeVar("M", bound=BaseModel)


def read(model: type[M], data: dict[str, Any]) -> M:
    """Parse the fields this reader knows; producers may add fields without asking."""
    return model.model_validate({k: v for k, v in data.items() if k in model.model_fields})


def _site_of(data: dict[str, Any]) -> str | None:
    if data.get("site"):
        return str(data["site"])
    subject = data.get("subject") or {}
    if subject.get("kind") == SubjectKind.SITE and subject.get("reference"):
        return str(subject["reference"])
    return None


async def _remember_contact(
    deps: Deps,
    session: AsyncSession,
    complaint_id: uuid.UUID,
    customer: Customer | ContactCard,
    raw_customer: dict[str, Any],
    sample: str,
    now: datetime,
) -> Contact:
    """Keep the customer's contact data; their language is the one first found for the
    complaint (from their words), unless an event states it."""
    wanted = raw_customer.get("language")
    found = await repo.upsert_contact(
        session,
        {
            "complaint_id": complaint_id,
            "customer_id": customer.id,
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "language": language_of(wanted, sample, deps.settings.default_language),
            "updated_at": now,
        },
        keep_language=not wanted,
    )
    return Contact(found["name"], found["email"], found["phone"], found["language"])


def _missing(fields: list[str]) -> list[str]:
    """``customer.phone|customer.email`` as the customer reads it: ``phone/email``."""
    return [field.replace("customer.", "").replace("|", "/") for field in fields]


def handlers(deps: Deps):
    settings = deps.settings
    directory = deps.directory

    # ---- customers -------------------------------------------------------------------------

    async def on_received(session: AsyncSession, event: Envelope) -> None:
        complaint = read(ComplaintReceived, event.data)
        raw = event.data.get("customer") or {}
        sample = " ".join(filter(None, [complaint.customer.name, complaint.description]))
        now = deps.clock()
        contact = await _remember_contact(
            deps, session, complaint.complaint_id, complaint.customer, raw, sample, now
        )
        await repo.upsert_case(
            session,
            {
                "complaint_id": complaint.complaint_id,
                "site": _site_of(event.data),
                "category": complaint.category,
                "channel": complaint.channel.value,
                "severity": complaint.severity.value,
                "updated_at": now,
            },
        )
        if complaint.information_complete:
            context = {"acknowledge_by": complaint.acknowledge_by}
            await tell_customer(
                session, deps, event, complaint.complaint_id, Template.RECEIPT, context, contact,
                with_link=True,
            )  # fmt: skip
            return
        link = settings.completion_link.format(complaint_id=complaint.complaint_id)
        await tell_customer(
            session,
            deps,
            event,
            complaint.complaint_id,
            Template.INFORMATION_NEEDED,
            {"link": link, "missing": _missing(complaint.missing_fields)},
            contact,
            with_link=True,
        )

    async def on_contact_reminder(session: AsyncSession, event: Envelope) -> None:
        """Still incomplete: remind the customer, with a fresh link to complete it."""
        due = read(ComplaintContactReminderDue, event.data)
        context = {
            "link": settings.completion_link.format(complaint_id=due.complaint_id),
            "missing": _missing(due.missing_fields),
            "reminder": due.reminder,
            "closes_at": due.closes_at,
        }
        await tell_customer(
            session, deps, event, due.complaint_id, Template.CONTACT_REMINDER, context,
            with_link=True,
        )  # fmt: skip

    async def on_closed_unreachable(session: AsyncSession, event: Envelope) -> None:
        """Closed because the missing contact data never came: tell the customer on whatever
        address they did leave (none: counted as nobody told), and how to submit again."""
        closed = read(ComplaintClosedUnreachable, event.data)
        contact = await usecases.contact_of(session, closed.complaint_id)
        context = {
            "closed_at": closed.closed_at,
            "received_at": closed.received_at,
            "missing": _missing(closed.missing_fields),
            "new_complaint_link": settings.new_complaint_link,
        }
        if contact is None:  # its receipt long consumed: no contact kept (or erased)
            await write(session, deps, event, closed.complaint_id, Template.CLOSED_UNREACHABLE,
                        [], context)  # fmt: skip
            return
        await tell_customer(
            session, deps, event, closed.complaint_id, Template.CLOSED_UNREACHABLE, context,
            contact,
        )  # fmt: skip

    async def on_completed(session: AsyncSession, event: Envelope) -> None:
        completed = read(ComplaintCompleted, event.data)
        raw = event.data.get("customer") or {}
        contact = await _remember_contact(
            deps,
            session,
            completed.complaint_id,
            completed.customer,
            raw,
            completed.customer.name or "",
            deps.clock(),
        )
        await tell_customer(
            session,
            deps,
            event,
            completed.complaint_id,
            Template.RECEIPT,
            {"acknowledge_by": completed.acknowledge_by},
            contact,
            with_link=True,
        )

    async def on_plan(session: AsyncSession, event: Envelope) -> None:
        plan = read(CasePlanRecorded, event.data)
        await tell_customer(session, deps, event, plan.complaint_id, Template.PLAN,
                            {"plan": plan.plan})  # fmt: skip

    async def on_forwarded(session: AsyncSession, event: Envelope) -> None:
        """DOMAIN.md: record, explain, forward, and tell the customer when the answer will
        come. (The department's team hears of it from the case.assigned that follows.)"""
        forwarded = read(CaseForwarded, event.data)
        team = directory.team(forwarded.to_team)
        context = {
            "department": team.name if team else forwarded.to_team,
            "answer_by": forwarded.answer_by,
        }
        await tell_customer(
            session, deps, event, forwarded.complaint_id, Template.FORWARDED, context
        )

    async def on_resolved(session: AsyncSession, event: Envelope) -> None:
        case = read(CaseResolved, event.data)
        raw = event.data.get("customer") or {}
        contact = await _remember_contact(
            deps, session, case.complaint_id, case.customer, raw, case.customer.name or "",
            deps.clock(),
        )  # fmt: skip
        context = {"resolution": case.resolution, "compensation": case.compensation}
        await tell_customer(
            session, deps, event, case.complaint_id, Template.RESOLUTION, context, contact
        )

    async def on_survey_requested(session: AsyncSession, event: Envelope) -> None:
        data = event.data
        complaint_id = uuid.UUID(str(data["complaint_id"]))
        # Version 2 names the survey; version 1 did not: its call-back stands for it.
        survey_id = uuid.UUID(str(data.get("survey_id") or data["callback_id"]))
        contact = None
        if data.get("customer"):
            customer = ContactCard.model_validate(data["customer"])
            contact = await _remember_contact(
                deps, session, complaint_id, customer, data["customer"], customer.name or "",
                deps.clock(),
            )  # fmt: skip
        await usecases.invite_to_survey(session, deps, event, survey_id, complaint_id, contact)

    # ---- staff -----------------------------------------------------------------------------

    async def case_context(session: AsyncSession, complaint_id: uuid.UUID) -> dict[str, Any]:
        case = await repo.get_case(session, complaint_id) or {}
        return {
            "case_link": settings.case_link.format(complaint_id=complaint_id),
            "category": case.get("category"),
            "severity": case.get("severity"),
        }

    async def on_opened(session: AsyncSession, event: Envelope) -> None:
        opened = read(CaseOpened, event.data)
        values = {
            "complaint_id": opened.complaint_id,
            "category": opened.category,
            "channel": opened.channel.value,
            "severity": opened.severity.value,
            "updated_at": deps.clock(),
        }
        site = _site_of(event.data)
        await repo.upsert_case(session, values | ({"site": site} if site else {}))

    async def on_assigned(session: AsyncSession, event: Envelope) -> None:
        assigned = read(CaseAssigned, event.data)
        await repo.set_owner(
            session,
            assigned.complaint_id,
            assigned.team,
            assigned.assignee,
            assigned.rung,
            deps.clock(),
        )
        if assigned.assignee is None and assigned.reason == AssignmentReason.ESCALATED:
            return  # the team serving the new rung is told by case.escalated
        if assigned.assignee is not None and assigned.assignee == assigned.by:
            return  # took it themselves: nothing to tell them
        recipients = who.owner(
            directory, assigned.team, assigned.assignee, settings.default_language
        )
        team = directory.team(assigned.team) if assigned.team else None
        context = await case_context(session, assigned.complaint_id) | {
            "team_name": team.name if team else assigned.team,
            "assignee_name": assigned.assignee_name,
            "rung": assigned.rung,
            "reason": assigned.reason.value,
            "note": assigned.note,
            "by_name": assigned.by_name or assigned.by,
        }
        await write(
            session, deps, event, assigned.complaint_id, Template.CASE_ASSIGNED, recipients,
            context,
        )  # fmt: skip

    async def on_escalated(session: AsyncSession, event: Envelope) -> None:
        """The team serving the new rung for this case: the owner named by case.assigned if
        that came first, else the directory's routing on the case's facts."""
        escalated = read(CaseEscalated, event.data)
        case = await repo.get_case(session, escalated.complaint_id) or {}
        team_id = case.get("team") if case.get("rung") == escalated.to_level else None
        if team_id is None:
            routed = directory.route(
                escalated.to_level,
                case.get("site"),
                case.get("category"),
                case.get("channel"),
                case.get("severity"),
            )
            # Nobody serves that rung here: the case stays with its team (as escalation does).
            team_id = routed.id if routed else case.get("team")
        team = directory.team(team_id) if team_id else None
        recipients = who.team(directory, team_id, settings.default_language) if team_id else []
        context = await case_context(session, escalated.complaint_id) | {
            "team_name": team.name if team else "",
            "from_level": escalated.from_level,
            "to_level": escalated.to_level,
            "reason": escalated.reason.value,
            "clock": escalated.clock,
            "note": escalated.note,
        }
        await write(
            session, deps, event, escalated.complaint_id, Template.CASE_ESCALATED, recipients,
            context,
        )  # fmt: skip

    async def owners(session: AsyncSession, complaint_id: uuid.UUID, level: str):
        case = await repo.get_case(session, complaint_id) or {}
        found = who.owner(
            directory, case.get("team"), case.get("assignee"), settings.default_language
        )
        if found:
            return found
        routed = directory.route(
            level, case.get("site"), case.get("category"), case.get("channel"),
            case.get("severity"),
        )  # fmt: skip
        return who.team(directory, routed.id, settings.default_language) if routed else []

    async def on_warning(session: AsyncSession, event: Envelope) -> None:
        warning = read(CaseSlaWarning, event.data)
        recipients = await owners(session, warning.complaint_id, warning.level)
        context = await case_context(session, warning.complaint_id) | {
            "clock": warning.clock,
            "deadline": warning.deadline,
            "percent": round(warning.fraction * 100),
            "level": warning.level,
        }
        await write(
            session, deps, event, warning.complaint_id, Template.SLA_WARNING, recipients, context
        )

    async def on_breached(session: AsyncSession, event: Envelope) -> None:
        breach = read(CaseSlaBreached, event.data)
        recipients = await owners(session, breach.complaint_id, breach.level)
        context = await case_context(session, breach.complaint_id) | {
            "clock": breach.clock,
            "deadline": breach.deadline,
            "level": breach.level,
        }
        await write(
            session, deps, event, breach.complaint_id, Template.SLA_BREACHED, recipients, context
        )

    async def on_pause_overdue(session: AsyncSession, event: Envelope) -> None:
        overdue = read(CasePauseOverdue, event.data)
        recipients = await owners(session, overdue.complaint_id, overdue.level)
        context = await case_context(session, overdue.complaint_id) | {
            "paused_at": overdue.paused_at,
            "reminder": overdue.reminder,
            "level": overdue.level,
        }
        await write(
            session, deps, event, overdue.complaint_id, Template.PAUSE_OVERDUE, recipients, context
        )

    async def approval_context(
        session: AsyncSession, complaint_id: uuid.UUID, role: str, requester: str
    ) -> tuple[list[Recipient], dict[str, Any]]:
        """Who may approve (people holding the role nearest the case) and what they read:
        times in the case's site's zone, the link to the case."""
        case = await repo.get_case(session, complaint_id) or {}
        recipients = who.approvers(
            directory, role, case.get("team"), case.get("site"), case.get("category"),
            exclude=requester,
        )  # fmt: skip
        context = await case_context(session, complaint_id) | {
            "approver_role": role,
            "time_zone": settings.zone_of(case.get("site")),
        }
        return recipients, context

    async def on_plan_submitted(session: AsyncSession, event: Envelope) -> None:
        submitted = read(CasePlanSubmitted, event.data)
        recipients, context = await approval_context(
            session, submitted.complaint_id, submitted.approver_role, submitted.by
        )
        context |= {
            "plan": submitted.plan,
            "by_name": submitted.by_name or submitted.by,
            "approve_by": submitted.approve_by,
            "level": submitted.level,
        }
        await write(
            session, deps, event, submitted.complaint_id, Template.PLAN_APPROVAL, recipients,
            context,
        )  # fmt: skip

    async def on_compensation_requested(session: AsyncSession, event: Envelope) -> None:
        requested = read(CaseCompensationRequested, event.data)
        recipients, context = await approval_context(
            session, requested.complaint_id, requested.approver_role, requested.by
        )
        context |= {
            "amount": str(requested.amount),
            "limit": str(requested.limit) if requested.limit else None,
            "compensation": requested.compensation,
            "resolution": requested.resolution,
            "by_name": requested.by_name or requested.by,
            "requested_at": requested.at,
        }
        await write(
            session, deps, event, requested.complaint_id, Template.COMPENSATION_APPROVAL,
            recipients, context,
        )  # fmt: skip

    async def on_callback_due(session: AsyncSession, event: Envelope) -> None:
        due = read(FollowupDue, event.data)
        recipients = who.owner(directory, due.team, due.assignee, settings.default_language)
        context = {
            "case_link": settings.case_link.format(complaint_id=due.complaint_id or ""),
            "kind": due.kind.value,
            "attempt": due.attempt,
            "due_at": due.due_at,
            "overdue_at": due.overdue_at,
        }
        await write(
            session, deps, event, due.complaint_id, Template.CALLBACK_DUE, recipients, context
        )

    return {
        ComplaintReceived.event_type: on_received,
        ComplaintCompleted.event_type: on_completed,
        ComplaintContactReminderDue.event_type: on_contact_reminder,
        ComplaintClosedUnreachable.event_type: on_closed_unreachable,
        CaseOpened.event_type: on_opened,
        CasePlanRecorded.event_type: on_plan,
        CaseForwarded.event_type: on_forwarded,
        CaseResolved.event_type: on_resolved,
        "survey.requested": on_survey_requested,
        CaseAssigned.event_type: on_assigned,
        CaseEscalated.event_type: on_escalated,
        CaseSlaWarning.event_type: on_warning,
        CaseSlaBreached.event_type: on_breached,
        CasePauseOverdue.event_type: on_pause_overdue,
        FollowupDue.event_type: on_callback_due,
        CasePlanSubmitted.event_type: on_plan_submitted,
        CaseCompensationRequested.event_type: on_compensation_requested,
    }
