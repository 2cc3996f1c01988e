"""Month end: the complaints still unresolved when a month ends are flagged, with their age
and the rung and team they sit with. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.ledger.domain.entry import UNRESOLVED, LedgerEntry
from shared.events.ledger import FlaggedComplaint


def age_days(received_at: datetime | None, at: datetime) -> int:
    if received_at is None:
        return 0
    return max(0, (at - received_at).days)


def flagged(entries: Iterable[LedgerEntry], month_end: datetime) -> list[FlaggedComplaint]:
    """Unresolved complaints received before ``month_end``, oldest first. Rejected ones are
    answered, not unresolved; resolved ones wait only for the customer's confirmation."""
    found = [
        FlaggedComplaint(
            complaint_id=e.complaint_id,
            received_at=e.received_at,
            age_days=age_days(e.received_at, month_end),
            rung=e.rung,
            team=e.team,
            site=e.site,
            category=e.category,
            severity=e.severity,
            status=e.status.value,
        )
        for e in entries
        if e.status in UNRESOLVED and e.received_at is not None and e.received_at < month_end
    ]
    return sorted(found, key=lambda f: (f.received_at, str(f.complaint_id)))
