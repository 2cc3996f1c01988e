"""Who is told, pure: staff by the directory (each person by their own preference, a team by
its members and its shared address or hook), customers on each channel they can be reached."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.notify.domain.messages import CUSTOMER, Recipient
from shared.directory import Directory, Person
from shared.events.notify import DeliveryChannel, RecipientKind


@dataclass(frozen=True)
class Contact:
    """What notify keeps of a complaint's customer."""

    name: str | None
    email: str | None
    phone: str | None
    language: str


def person(found: Person) -> list[Recipient]:
    if not found.active:
        return []
    return [
        Recipient(RecipientKind.STAFF, found.id, DeliveryChannel(channel.value), found.language)
        for channel in found.notify
    ]


def team(directory: Directory, team_id: str, language: str) -> list[Recipient]:
    """The members, each by their preference, and the team's own address and hook if any."""
    found = directory.team(team_id)
    if found is None:
        return []
    recipients = [r for member in directory.members(team_id) for r in person(member)]
    if found.email:
        recipients.append(Recipient(RecipientKind.TEAM, found.id, DeliveryChannel.EMAIL, language))
    if found.webhook:
        recipients.append(
            Recipient(RecipientKind.TEAM, found.id, DeliveryChannel.WEBHOOK, language)
        )
    return recipients


def owner(
    directory: Directory, team_id: str | None, assignee: str | None, language: str
) -> list[Recipient]:
    """A case's owner: the person who took it, else the team it is with."""
    if assignee is not None:
        found = directory.person(assignee)
        if found is not None:
            return person(found)
    if team_id is not None:
        return team(directory, team_id, language)
    return []


def approvers(
    directory: Directory,
    role: str,
    team_id: str | None,
    site: str | None,
    category: str | None,
    exclude: str | None = None,
) -> list[Recipient]:
    """Who may approve: the people holding ``role`` in the nearest circle that has any (the
    case's team, then the teams of its site, then the department its category belongs to),
    else everyone holding it. ``exclude``: the requester, who cannot approve their own."""

    def holding(people: Iterable[Person]) -> list[Person]:
        return [p for p in people if p.active and role in p.roles and p.id != exclude]

    circles: list[list[Person]] = []
    if team_id is not None:
        circles.append(directory.members(team_id))
    if site is not None:
        circles.append([p for t in directory.teams if site in t.sites
                        for p in directory.members(t.id)])  # fmt: skip
    # The department whose categories hold the case's (a case of unknown category is not
    # the catch-all department's: everyone holding the role hears of it instead).
    departments = [
        t
        for t in directory.departments()
        if category is not None and t.serves(t.rung, site, category, None, None)
    ]
    if departments:
        nearest = max(departments, key=lambda t: t.specificity)  # first of equals, as route()
        circles.append(directory.members(nearest.id))
    circles.append(list(directory.people))
    for circle in circles:
        found = holding(circle)
        if found:
            unique = {p.id: p for p in found}  # a person in two teams of the site: once
            return [r for p in unique.values() for r in person(p)]
    return []


def customer(
    contact: Contact | None,
    channels: Iterable[DeliveryChannel],
    sms_gateway: bool,
    default_language: str,
) -> list[Recipient]:
    """Each wanted channel the customer has an address for. With no contact known yet (its
    event not consumed yet), an e-mail whose address is looked up at delivery: it waits out
    its retries for the contact, or is parked as failed, visibly."""
    if contact is None:
        return [
            Recipient(RecipientKind.CUSTOMER, CUSTOMER, DeliveryChannel.EMAIL, default_language)
        ]
    found = []
    for channel in channels:
        if channel == DeliveryChannel.EMAIL and contact.email:
            found.append(Recipient(RecipientKind.CUSTOMER, CUSTOMER, channel, contact.language))
        if channel == DeliveryChannel.SMS and contact.phone and sms_gateway:
            found.append(Recipient(RecipientKind.CUSTOMER, CUSTOMER, channel, contact.language))
    return found


def display_name(directory: Directory, recipient: Recipient) -> str:
    if recipient.kind == RecipientKind.STAFF:
        found = directory.person(recipient.id)
        return found.name if found else recipient.id
    if recipient.kind == RecipientKind.TEAM:
        group = directory.team(recipient.id)
        return group.name if group else recipient.id
    return ""
