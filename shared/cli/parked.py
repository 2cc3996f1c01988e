"""``parked``: the events this service's consumer groups parked, on the command line.

    python -m services.<name> parked list [--status parked] [--group G] [--topic T]
    python -m services.<name> parked show ID
    python -m services.<name> parked redrive ID [ID...] --reason "fixed the policy file"
    python -m services.<name> parked discard ID [ID...] --reason "test data"

The database is the service's (``--database-url``, or ``DATABASE_URL``, or the settings the
root command passes in ``ctx.obj``). A redrive is done by the running consumer group that
parked the event, within seconds; the command queues it and says so. Every decision is
audited: who (``--by``, default the OS user), when, why."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import Progress
from rich.syntax import Syntax
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.cli.common import default_actor
from shared.db import create_engine, session_factory
from shared.messaging import parked

app = typer.Typer(help="Events the consumers parked: list, show, redrive, discard.")
console = Console()
T = TypeVar("T")

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="DATABASE_URL", help="the service's database"),
]
Reason = Annotated[str, typer.Option("--reason", "-r", help="why, for the audit trail")]
By = Annotated[str | None, typer.Option("--by", help="who decides (default: cli:<OS user>)")]


def _url(ctx: typer.Context, given: str | None) -> str:
    if given:
        return given
    obj = ctx.obj
    found = obj.get("database_url") if isinstance(obj, dict) else getattr(obj, "database_url", None)
    if not found:
        raise typer.BadParameter("give it or set DATABASE_URL", param_hint="--database-url")
    return str(found.get_secret_value() if hasattr(found, "get_secret_value") else found)


def _run(url: str, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = create_engine(url, pool_size=2)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _who(by: str | None) -> str:
    return by or default_actor()


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        list[parked.Status] | None,
        typer.Option("--status", "-s", help="repeatable; default: parked, held, redrive"),
    ] = None,
    group: Annotated[str | None, typer.Option(help="consumer group")] = None,
    topic: Annotated[str | None, typer.Option(help="source topic")] = None,
    key: Annotated[str | None, typer.Option(help="record key (complaint id)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    database_url: DatabaseUrl = None,
) -> None:
    """Parked events, oldest first."""
    statuses = status or [parked.Status.PARKED, parked.Status.HELD, parked.Status.REDRIVE]

    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[parked.ParkedEvent]:
        async with sessions() as session:
            return await parked.list_events(
                session, group_id=group, topic=topic, statuses=statuses, key=key, limit=limit
            )

    found = _run(_url(ctx, database_url), work)
    table = Table(title=f"parked events ({len(found)})")
    for column in ("id", "status", "group", "topic", "part:offset", "key", "type", "error"):
        table.add_column(column, overflow="fold")
    for f in found:
        table.add_row(
            str(f.id),
            f.status.value,
            f.group_id,
            f.topic,
            f"{f.partition}:{f.offset}",
            f.key or "",
            f.event_type or "?",
            f"{f.error_type}: {f.error_message}"[:120],
        )
    console.print(table)


@app.command()
def show(
    ctx: typer.Context,
    parked_id: Annotated[int, typer.Argument(help="the parked event's id")],
    database_url: DatabaseUrl = None,
) -> None:
    """One parked event with its error, payload and audit trail."""

    async def work(sessions: async_sessionmaker[AsyncSession]) -> parked.ParkedEvent:
        async with sessions() as session:
            return await parked.get(session, parked_id)

    try:
        f = _run(_url(ctx, database_url), work)
    except parked.NotFound:
        console.print(f"[red]no parked event {parked_id}[/red]")
        raise typer.Exit(1) from None
    facts = Table.grid(padding=(0, 2))
    for name, value in (
        ("status", f.status.value),
        ("group", f.group_id),
        ("record", f"{f.topic} [{f.partition}] @ {f.offset}"),
        ("key", f.key or "-"),
        ("event", f"{f.event_type or '?'} {f.event_id or ''}"),
        ("error", f"{f.error_type}: {f.error_message}"),
        ("attempts", str(f.attempts)),
        ("parked at", f.parked_at.isoformat()),
        ("resolved at", f.resolved_at.isoformat() if f.resolved_at else "-"),
    ):
        facts.add_row(f"[bold]{name}[/bold]", value)
    console.print(Panel(facts, title=f"parked event {f.id}"))
    if f.error_trace:
        console.print(Panel(f.error_trace.rstrip(), title="where it failed"))
    console.print(Panel(_payload(f.payload), title="payload"))
    for entry in f.audit:
        console.print(f"{entry.at.isoformat()}  {entry.action}  by {entry.actor}: {entry.reason}")


def _payload(raw: bytes | None) -> Any:
    if raw is None:
        return "(no value)"
    try:
        return Syntax(json.dumps(json.loads(raw), indent=2, ensure_ascii=False), "json")
    except ValueError:
        return repr(raw[:2000])


def _decide(
    ctx: typer.Context,
    ids: list[int],
    action: Callable[[AsyncSession, int, str, str], Awaitable[parked.ParkedEvent]],
    verb: str,
    reason: str,
    by: str | None,
    database_url: str | None,
) -> None:
    actor = _who(by)
    refused: list[str] = []

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        with Progress(console=console, transient=False) as progress:
            task = progress.add_task(f"{verb} {len(ids)} event(s)", total=len(ids))
            for parked_id in ids:
                try:
                    async with sessions.begin() as session:
                        await action(session, parked_id, actor, reason)
                except parked.NotFound:
                    refused.append(f"{parked_id}: no such parked event")
                except parked.Refused as exc:
                    refused.append(str(exc))
                progress.advance(task)

    _run(_url(ctx, database_url), work)
    done = len(ids) - len(refused)
    console.print(f"{done} event(s) {verb}; audit: by {actor}, reason: {reason}")
    for line in refused:
        console.print(f"[yellow]refused[/yellow] {line}")
    if refused:
        raise typer.Exit(1)


@app.command()
def redrive(
    ctx: typer.Context,
    ids: Annotated[list[int], typer.Argument(help="parked event ids")],
    reason: Reason,
    by: By = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Queue parked events for replay by the consumer group that parked them; the events of
    the same key held behind each follow in order."""
    _decide(ctx, ids, parked.request_redrive, "queued for redrive", reason, by, database_url)


@app.command()
def discard(
    ctx: typer.Context,
    ids: Annotated[list[int], typer.Argument(help="parked event ids")],
    reason: Reason,
    by: By = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Give up on parked events; the events of the same key held behind each are replayed."""
    _decide(ctx, ids, parked.discard, "discarded", reason, by, database_url)
