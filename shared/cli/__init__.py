"""The operator's command line: ``python -m shared.cli <group> <command>``, or as a service
command (``python -m services.<name> parked list``). Sub-apps: ``parked`` (consumer events
parked by this service's groups)."""

from __future__ import annotations

import typer

from shared.cli import parked

app = typer.Typer(help="Operate the complaint platform's services.", no_args_is_help=True)
app.add_typer(parked.app, name="parked")
