"""``python -m services.notify [serve|migrate|retry-failed]``"""

import asyncio
from pathlib import Path

from services.notify.app import load_checked
from services.notify.settings import NotifySettings
from shared.entrypoint import serve_or_migrate

MIGRATIONS = Path(__file__).parent / "migrations"


def retry_failed(settings: NotifySettings) -> None:
    """Every message parked as failed goes back to pending (after the cause is fixed)."""
    from services.notify.app import build_deps
    from services.notify.usecases import retry_all_failed
    from shared.runtime import Runtime

    async def run() -> int:
        runtime = Runtime.build(settings)
        try:
            return await retry_all_failed(runtime.sessions, build_deps(settings, runtime))
        finally:
            await runtime.engine.dispose()

    print(f"{asyncio.run(run())} failed message(s) set to be delivered again")


if __name__ == "__main__":
    # A bad staff directory, template or missing webhook secret stops the service first.
    serve_or_migrate(
        NotifySettings,
        "services.notify.app:create_app",
        MIGRATIONS,
        check=load_checked,
        commands={"retry-failed": retry_failed},
    )
