"""The command line every service shares: ``serve`` (migrate, then run the HTTP server),
``migrate``, and the operators' commands (``outbox``, ``timers``, ``parked``: shared.cli)."""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.cli import OPS_COMMANDS, run_cli
from shared.directory import directory_file, load_directory
from shared.logs import configure_logging
from shared.migrations import upgrade
from shared.settings import ServiceSettings
from shared.web.ops_auth import Authenticator
from shared.web.server import serve

log = logging.getLogger(__name__)


def read_settings(settings_cls: type[ServiceSettings]) -> ServiceSettings:
    """The settings, or exit 2 naming each bad one (never printing a value: it may be a
    secret, and pydantic's own message would echo the input)."""
    try:
        return settings_cls()
    except ValidationError as exc:
        service = settings_cls.model_fields["service_name"].default
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            message = error["msg"].removeprefix("Value error, ")
            print(f"{service}: invalid configuration: {where}: {message}", file=sys.stderr)
        sys.exit(2)


def settle_garbage_collector(young_threshold: int) -> None:
    """What start-up built (modules, models, the app) lives as long as the process: move it
    out of the collector's reach, and let the young generation grow before a collection.
    CPython's default (700 allocations) collects every few events here, while nearly all of a
    request's or a batch's objects are freed by reference counting anyway."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, 20, 20)


def serve_or_migrate(
    settings_cls: type[ServiceSettings],
    app_factory: str,
    migrations: Path,
    *,
    check: Callable[[Any], object] | None = None,
    commands: dict[str, Callable[[Any], None]] | None = None,
) -> None:
    """``check(settings)`` validates configuration files before anything starts: a
    ConfigError stops the process (exit 2) with its message. ``commands`` adds commands of
    the service's own, each called with the settings after the migrations."""
    service = app_factory.split(":")[0].rsplit(".", 1)[0]
    if sys.argv[1:2] and sys.argv[1] in OPS_COMMANDS:
        # Operators' commands: on the service's database as it is, no migrations, quiet logs.
        settings = read_settings(settings_cls)
        configure_logging("WARNING")
        url = settings.database_url.get_secret_value()
        run_cli(sys.argv[1:], url, prog_name=f"python -m {service}")
        return
    extra = commands or {}
    parser = argparse.ArgumentParser(prog=f"python -m {service}")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", *extra])
    args = parser.parse_args()
    settings = read_settings(settings_cls)
    configure_logging(settings.log_level)
    try:
        # Every service reads the staff directory (who may call it, who owns what), and the
        # development tokens name people of it.
        directory = load_directory(directory_file(settings.staff_directory_file))
        Authenticator.from_settings(settings, directory)
        if check is not None:
            check(settings)
    except ValueError as exc:  # ConfigError included
        print(f"{settings.service_name}: invalid configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    if args.command in extra:
        upgrade(migrations, settings.database_url.get_secret_value())
        extra[args.command](settings)
        return
    if args.command == "migrate" or settings.run_migrations:
        upgrade(migrations, settings.database_url.get_secret_value())
        log.info("migrations applied", extra={"service": settings.service_name})
    if args.command == "migrate":
        return
    module, _, factory = app_factory.partition(":")
    app = getattr(importlib.import_module(module), factory)(settings)
    settle_garbage_collector(settings.gc_young_threshold)
    log.info("starting", extra={"service": settings.service_name, "port": settings.port})
    serve(app, settings.host, settings.port)
