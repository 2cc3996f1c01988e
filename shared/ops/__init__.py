"""Operators' operations on what the delivery core parked (outbox rows, failed timers): list,
show, retry, discard or cancel, each recorded in the audit table. Shared by the command line
(shared.cli) and the admin API (shared.web.admin_*)."""

from __future__ import annotations


class OpsError(Exception):
    """An operation that cannot be done; the message says why (shown to the operator)."""


class NotFound(OpsError):
    pass


class Conflict(OpsError):
    """The row is not in a state the operation applies to (already sent, not parked...)."""
