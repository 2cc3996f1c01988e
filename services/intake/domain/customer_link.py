"""The customer's "My complaint" link, pure: the token is the credential (looked up by its
hash; the clear token exists only in the customer's message), valid while the complaint is
open and for a while after it is closed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.intake.domain.status import Status

# After these the link counts down to its expiry; before, it stays valid.
FINAL_STATUSES = frozenset({Status.CLOSED, Status.REJECTED, Status.CLOSED_UNREACHABLE})


class LinkState(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"  # closed too long ago, or the personal data was erased: 410


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LinkPolicy:
    valid_after_closing: timedelta = timedelta(days=90)


def expires_at(status: str, status_changed_at: datetime, policy: LinkPolicy) -> datetime | None:
    """None while the complaint is still being handled."""
    if status in FINAL_STATUSES:
        return status_changed_at + policy.valid_after_closing
    return None


def link_state(
    status: str,
    status_changed_at: datetime,
    anonymised: bool,
    now: datetime,
    policy: LinkPolicy,
) -> LinkState:
    if anonymised:
        return LinkState.EXPIRED
    until = expires_at(status, status_changed_at, policy)
    return LinkState.EXPIRED if until is not None and now >= until else LinkState.VALID
