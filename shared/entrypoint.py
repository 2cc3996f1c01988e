"""The command line every service shares: ``serve`` (migrate, then run uvicorn) or ``migrate``."""

from __future__ import annotations

import argparse
import importlib
import logging
from pathlib import Path

import uvicorn

from shared.logs import configure_logging
from shared.migrations import upgrade
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


def serve_or_migrate(
    settings_cls: type[ServiceSettings], app_factory: str, migrations: Path
) -> None:
    parser = argparse.ArgumentParser(
        prog=f"python -m {app_factory.split(':')[0].rsplit('.', 1)[0]}"
    )
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args()
    settings = settings_cls()
    configure_logging(settings.log_level)
    if args.command == "migrate" or settings.run_migrations:
        upgrade(migrations, settings.database_url)
        log.info("migrations applied", extra={"service": settings.service_name})
    if args.command == "migrate":
        return
    module, _, factory = app_factory.partition(":")
    app = getattr(importlib.import_module(module), factory)(settings)
    log.info("starting", extra={"service": settings.service_name, "port": settings.port})
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
