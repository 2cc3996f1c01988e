"""The operators' command line every service shares, run as service commands:

    python -m services.<name> outbox list|show|retry|discard ...
    python -m services.<name> timers list|show|retry|cancel ...
    python -m services.<name> parked ...   (parked consumer events: shared/cli/parked.py)

Each command works on the service's own database (its settings' ``database_url``, given to
the commands as the typer context's ``obj``, see shared.cli.common)."""

from __future__ import annotations

from collections.abc import Sequence

import typer

from shared.cli.common import CliContext
from shared.cli.outbox import app as outbox_app
from shared.cli.parked import app as parked_app
from shared.cli.timers import app as timers_app

# The sub-apps, by the name that follows the service: python -m services.<name> <NAME> ...
SUB_APPS: dict[str, typer.Typer] = {
    "outbox": outbox_app,
    "timers": timers_app,
    "parked": parked_app,
}
OPS_COMMANDS = frozenset({*SUB_APPS, "parked"})


def build_app() -> typer.Typer:
    root = typer.Typer(no_args_is_help=True, help="Operators' commands of this service.")
    for name, sub in SUB_APPS.items():
        root.add_typer(sub, name=name)
    return root


def run_cli(args: Sequence[str], database_url: str, prog_name: str) -> None:
    """Run one operator command (``args`` from the sub-app's name on); exits the process."""
    command = typer.main.get_command(build_app())
    command.main(args=list(args), obj=CliContext(database_url), prog_name=prog_name)
