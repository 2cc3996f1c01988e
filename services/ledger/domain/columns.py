"""The ledger's columns, as every format shows them (JSON, CSV, spreadsheet, print): one flat
row per complaint, its steps with who handled each. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.ledger.domain.entry import LedgerEntry

# (key, header): the order of the CSV and spreadsheet columns.
COLUMNS: list[tuple[str, str]] = [
    ("complaint_id", "Complaint"),
    ("received_at", "Received at"),
    ("channel", "Channel"),
    ("site", "Site"),
    ("subject", "Subject"),
    ("category", "Category"),
    ("severity", "Severity"),
    ("valid", "Valid"),
    ("rejection_reason", "Rejection reason"),
    ("customer_id", "Customer"),
    ("tier", "Tier"),
    ("acknowledged_at", "Accepted at"),
    ("acknowledged_by", "Accepted by"),
    ("investigated_at", "Investigated at"),
    ("investigated_by", "Investigated by"),
    ("findings", "Findings"),
    ("planned_at", "Plan at"),
    ("planned_by", "Plan by"),
    ("plan", "Plan"),
    ("resolved_at", "Resolved at"),
    ("resolved_by", "Resolved by"),
    ("resolution", "Result"),
    ("compensation", "Compensation"),
    ("closed_at", "Closed at"),
    ("closed_outcome", "Outcome"),
    ("status", "Status"),
    ("round", "Rounds"),
    ("reopens", "Reopens"),
    ("rung", "Rung"),
    ("highest_rung", "Highest rung"),
    ("team", "Team"),
    ("assignee", "Owner"),
    ("breached_clocks", "Clocks breached"),
    ("satisfaction", "Satisfaction by cycle"),
]


def _who(person: str | None, name: str | None) -> str | None:
    if person is None:
        return name
    return f"{name} ({person})" if name else person


def flat(entry: LedgerEntry) -> dict[str, Any]:
    """The row of ``entry``: plain values (datetimes stay datetimes for the spreadsheet)."""
    subject = " ".join(p for p in (entry.subject_kind, entry.subject_reference) if p) or None
    satisfaction = "; ".join(f"{s['cycle']}: {s['level']} ({s['score']})"
                             for s in entry.satisfaction) or None  # fmt: skip
    breached = ", ".join(entry.breached_clocks) or None
    return {
        "complaint_id": str(entry.complaint_id),
        "received_at": entry.received_at,
        "channel": entry.channel,
        "site": entry.site,
        "subject": subject,
        "category": entry.category,
        "severity": entry.severity,
        "valid": entry.valid,
        "rejection_reason": entry.rejection_reason,
        "customer_id": entry.customer_id,
        "tier": entry.tier,
        "acknowledged_at": entry.acknowledged_at,
        "acknowledged_by": _who(entry.acknowledged_by, entry.acknowledged_by_name),
        "investigated_at": entry.investigated_at,
        "investigated_by": _who(entry.investigated_by, entry.investigated_by_name),
        "findings": entry.findings,
        "planned_at": entry.planned_at,
        "planned_by": _who(entry.planned_by, entry.planned_by_name),
        "plan": entry.plan,
        "resolved_at": entry.resolved_at,
        "resolved_by": _who(entry.resolved_by, entry.resolved_by_name),
        "resolution": entry.resolution,
        "compensation": entry.compensation,
        "closed_at": entry.closed_at or entry.suspended_at,
        "closed_outcome": entry.closed_outcome,
        "status": entry.status.value,
        "round": entry.round,
        "reopens": entry.reopens,
        "rung": entry.rung,
        "highest_rung": entry.highest_rung,
        "team": entry.team,
        "assignee": _who(entry.assignee, entry.assignee_name),
        "breached_clocks": breached,
        "satisfaction": satisfaction,
    }


def text(value: Any) -> str:
    """A cell as text (CSV, print): ISO times, yes/no, empty for nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)
