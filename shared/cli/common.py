"""What the operators' commands share: the context (the service's database), an engine for
the length of one command, the console, and the actor named in the audit trail."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from shared.ops import OpsError

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")


@dataclass(frozen=True)
class CliContext:
    database_url: str


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment
        return "cli:unknown"


@asynccontextmanager
async def service_engine(ctx: typer.Context) -> AsyncIterator[AsyncEngine]:
    context: CliContext = ctx.obj
    engine = create_engine(context.database_url, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


def run(ctx: typer.Context, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work(engine)``; an operation that cannot be done ends the command (exit 1)."""

    async def go() -> T:
        async with service_engine(ctx) as engine:
            return await work(engine)

    try:
        return asyncio.run(go())
    except OpsError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


def when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at else "-"


async def apply_each(
    engine: AsyncEngine,
    ids: list[int],
    done: str,
    act: Callable[[AsyncEngine, int], Awaitable[object]],
) -> tuple[int, int]:
    """``act`` on each id with a progress bar; an operator refusal (``OpsError``) is printed
    and counted, the others go on. Returns (done, refused)."""
    ok = failed = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(done, total=len(ids))
        for item in ids:
            try:
                await act(engine, item)
                ok += 1
            except OpsError as exc:
                errors.print(f"[yellow]{exc}[/yellow]")
                failed += 1
            progress.advance(task)
    return ok, failed


def report(ok: int, failed: int, noun: str, done: str) -> None:
    """The outcome line; exit 1 when any was refused."""
    console.print(f"{ok} {noun}(s) {done}" + (f", {failed} not" if failed else ""))
    if failed:
        raise typer.Exit(1)
