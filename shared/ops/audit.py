"""The audit trail of operators' actions: who did what to which row, when and why. One row
per action in ``ops_audit`` (the service's own database), written in the transaction of the
action, and a log line carrying the ids (never the reason, which is free text)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    actor: str
    action: str
    target: str
    reason: str | None


async def record(
    conn: AsyncConnection, *, actor: str, action: str, target: str, reason: str | None
) -> None:
    await conn.execute(
        sa.text(
            "INSERT INTO ops_audit (actor, action, target, reason) "
            "VALUES (:actor, :action, :target, :reason)"
        ),
        {"actor": actor, "action": action, "target": target, "reason": reason},
    )
    log.info("operator action", extra={"actor": actor, "action": action, "target": target})


async def trail(conn: AsyncConnection, target: str) -> list[AuditLine]:
    rows = await conn.execute(
        sa.text(
            "SELECT at, actor, action, target, reason FROM ops_audit "
            "WHERE target = :target ORDER BY id"
        ),
        {"target": target},
    )
    return [AuditLine(**row) for row in rows.mappings()]
