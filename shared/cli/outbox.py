"""``outbox``: rows the relay parked because they cannot be published (topic missing, record
too large, not authorised). List them, show one with its error, retry after fixing the
cause, or discard with a reason; every retry and discard goes into the audit trail."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.cli.common import apply_each, console, default_actor, report, run, when
from shared.ops import outbox as ops
from shared.ops.outbox import OutboxStatus

app = typer.Typer(no_args_is_help=True, help="Parked outbox rows: list, show, retry, discard.")

Ids = Annotated[list[int] | None, typer.Argument(help="Outbox row ids", show_default=False)]
By = Annotated[str, typer.Option("--by", help="Who acts, for the audit trail")]


@app.command("list")
def list_rows(
    ctx: typer.Context,
    status: Annotated[OutboxStatus, typer.Option(help="Which rows")] = OutboxStatus.PARKED,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    after: Annotated[int | None, typer.Option(help="Rows after this id (paging)")] = None,
) -> None:
    """Outbox rows of a status, oldest first."""
    rows = run(ctx, lambda engine: ops.list_rows(engine, status, after=after, limit=limit))
    table = Table("id", "topic", "key", "type", "status", "created", "parked", "error")
    for r in rows:
        table.add_row(
            str(r.id), r.topic, r.key, r.event_type, r.status.value, when(r.created_at),
            when(r.parked_at), (r.last_error or "")[:80],
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(rows)} {status.value} row(s)")


@app.command()
def show(ctx: typer.Context, row_id: Annotated[int, typer.Argument(help="Outbox row id")]) -> None:
    """One row with its error, the start of its payload and its audit trail."""
    found = run(ctx, lambda engine: ops.get_row(engine, row_id))
    r = found.row
    table = Table.grid(padding=(0, 2))
    for name, value in (
        ("id", str(r.id)), ("event id", str(r.event_id)), ("topic", r.topic), ("key", r.key),
        ("type", r.event_type), ("status", r.status.value), ("created", when(r.created_at)),
        ("parked", when(r.parked_at)), ("sent", when(r.sent_at)),
        ("discarded", when(r.discarded_at)), ("attempts", str(r.attempts)),
        ("error", r.last_error or "-"), ("held back", f"{found.held_back} later row(s) of its key"),
        ("payload", f"{found.payload_bytes} bytes"),
    ):  # fmt: skip
        table.add_row(f"[bold]{name}[/bold]", value)
    console.print(table)
    console.print(found.payload_preview, markup=False, highlight=False)
    for line in found.audit:
        console.print(f"{when(line.at)} {line.actor} {line.action}: {line.reason or ''}")


@app.command()
def retry(
    ctx: typer.Context,
    row_ids: Ids = None,
    all_parked: Annotated[bool, typer.Option("--all", help="Every parked row")] = False,
    reason: Annotated[str | None, typer.Option(help="Why, for the audit trail")] = None,
    by: By = "",
) -> None:
    """Un-park rows (after fixing the cause): the relay publishes them, in order."""
    actor = by or default_actor()
    _each(ctx, row_ids, all_parked, "retried",
          lambda engine, i: ops.retry(engine, i, actor=actor, reason=reason))  # fmt: skip


@app.command()
def discard(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why the events are given up (required)")],
    row_ids: Ids = None,
    all_parked: Annotated[bool, typer.Option("--all", help="Every parked row")] = False,
    by: By = "",
) -> None:
    """Give up on parked rows: never published; their keys' later rows go on."""
    if not reason.strip():
        raise typer.BadParameter("a reason is required", param_hint="--reason")
    actor = by or default_actor()
    _each(ctx, row_ids, all_parked, "discarded",
          lambda engine, i: ops.discard(engine, i, actor=actor, reason=reason))  # fmt: skip


def _each(ctx: typer.Context, row_ids: list[int] | None, all_parked: bool, done: str, act) -> None:
    if not row_ids and not all_parked:
        raise typer.BadParameter("name row ids or give --all", param_hint="ROW_IDS")

    async def work(engine: AsyncEngine) -> tuple[int, int]:
        ids = list(row_ids or [])
        if all_parked:
            ids += [r.id for r in await _all_parked(engine) if r.id not in ids]
        return await apply_each(engine, ids, done, act)

    report(*run(ctx, work), "row", done)


async def _all_parked(engine: AsyncEngine) -> list[ops.OutboxRow]:
    found: list[ops.OutboxRow] = []
    while page := await ops.list_rows(engine, after=found[-1].id if found else None, limit=500):
        found += page
    return found
