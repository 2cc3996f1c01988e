"""``timers``: durable timers, above all those parked as failed after repeated failures
(still retried at the longest back-off). List them, show one with its error, fire one now,
or cancel one that must never fire; each action goes into the audit trail."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.cli.common import apply_each, console, default_actor, report, run, when
from shared.ops import timers as ops
from shared.ops.timers import TimerStatus

app = typer.Typer(no_args_is_help=True, help="Durable timers: list, show, retry, cancel.")

Ids = Annotated[list[int], typer.Argument(help="Timer ids", show_default=False)]
By = Annotated[str, typer.Option("--by", help="Who acts, for the audit trail")]


@app.command("list")
def list_timers(
    ctx: typer.Context,
    status: Annotated[TimerStatus, typer.Option(help="Which timers")] = TimerStatus.FAILED,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    after: Annotated[int | None, typer.Option(help="Timers after this id (paging)")] = None,
) -> None:
    """Timers of a status, oldest first."""
    rows = run(ctx, lambda engine: ops.list_timers(engine, status, after=after, limit=limit))
    table = Table("id", "kind", "subject", "due", "status", "attempts", "failed", "error")
    for t in rows:
        table.add_row(
            str(t.id), t.kind, t.subject, when(t.due_at), t.status.value, str(t.attempts),
            when(t.failed_at), (t.last_error or "")[:80],
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(rows)} {status.value} timer(s)")


@app.command()
def show(ctx: typer.Context, timer_id: Annotated[int, typer.Argument(help="Timer id")]) -> None:
    """One timer with its error, payload and audit trail."""
    found = run(ctx, lambda engine: ops.get_timer(engine, timer_id))
    t = found.row
    table = Table.grid(padding=(0, 2))
    for name, value in (
        ("id", str(t.id)), ("kind", t.kind), ("subject", t.subject), ("due", when(t.due_at)),
        ("status", t.status.value), ("attempts", str(t.attempts)),
        ("failed", when(t.failed_at)), ("fired", when(t.fired_at)),
        ("cancelled", when(t.cancelled_at)), ("error", t.last_error or "-"),
        ("payload", str(found.payload)),
    ):  # fmt: skip
        table.add_row(f"[bold]{name}[/bold]", value)
    console.print(table)
    for line in found.audit:
        console.print(f"{when(line.at)} {line.actor} {line.action}: {line.reason or ''}")


@app.command()
def retry(
    ctx: typer.Context,
    timer_ids: Ids,
    reason: Annotated[str | None, typer.Option(help="Why, for the audit trail")] = None,
    by: By = "",
) -> None:
    """Fire timers now (a scheduler takes them at once), with fresh attempts."""
    actor = by or default_actor()
    _each(ctx, timer_ids, "retried",
          lambda engine, i: ops.retry(engine, i, actor=actor, reason=reason))  # fmt: skip


@app.command()
def cancel(
    ctx: typer.Context,
    timer_ids: Ids,
    reason: Annotated[str, typer.Option(help="Why they must never fire (required)")],
    by: By = "",
) -> None:
    """Cancel timers: they never fire."""
    if not reason.strip():
        raise typer.BadParameter("a reason is required", param_hint="--reason")
    actor = by or default_actor()
    _each(ctx, timer_ids, "cancelled",
          lambda engine, i: ops.cancel(engine, i, actor=actor, reason=reason))  # fmt: skip


def _each(ctx: typer.Context, timer_ids: list[int], done: str, act) -> None:
    async def work(engine: AsyncEngine) -> tuple[int, int]:
        return await apply_each(engine, timer_ids, done, act)

    report(*run(ctx, work), "timer", done)
