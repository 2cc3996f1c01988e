"""What erasing a customer's personal data changes in the ledger (``customer.erasure_requested``
and ``customer.erased``, see ``shared.events.privacy``). Pure.

The ledger holds no contact data, but it holds the customer's id and what staff wrote about
their matter (findings, plan, resolution, compensation: escalation erases the same texts) and
the order number of the subject. Those go: the id becomes the erasure's pseudonym (the same
in every service, so counts per customer, repeat complainants, stay right), the texts
``[erased]``, an order reference nothing (a site's name stays: it is no personal data). The
dates, rungs, teams, clocks, rounds and satisfaction scores stay for the figures.

An erased entry remembers its pseudonym: an event of the complaint that was in flight when
the request came (and folds text back in) is erased again as it is applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.ledger.domain.entry import LedgerEntry
from shared.privacy import ERASED_TEXT

# What staff wrote about the customer's matter, as the ledger keeps it.
FREE_TEXT = ("findings", "plan", "resolution", "compensation")


def erase(entry: LedgerEntry, pseudonym: str, at: datetime) -> None:
    """Erase ``entry`` in place (again, harmlessly, when it already is)."""
    entry.customer_id = pseudonym
    entry.erased_as = pseudonym
    entry.erased_at = entry.erased_at or at
    for name in FREE_TEXT:
        if getattr(entry, name) is not None:
            setattr(entry, name, ERASED_TEXT)
    if entry.subject_kind != "site":  # an order number leads back to the customer
        entry.subject_reference = None


def summary_without(figures: dict[str, Any], customer_id: str, pseudonym: str) -> dict[str, Any]:
    """A kept summary's figures with the customer's id replaced in its repeat complainants."""
    repeat = figures.get("repeat_complainants")
    if not isinstance(repeat, dict) or not repeat.get("list"):
        return figures
    rows = [
        row | {"customer_id": pseudonym} if row.get("customer_id") == customer_id else row
        for row in repeat["list"]
    ]
    return figures | {"repeat_complainants": repeat | {"list": rows}}
