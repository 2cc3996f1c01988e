"""``python -m services.console``: the staff console and customer pages on CONSOLE_PORT."""

import sys

import uvicorn
from pydantic import ValidationError

from services.console.app import create_app
from services.console.settings import ConsoleSettings
from shared.logs import configure_logging

if __name__ == "__main__":
    try:
        settings = ConsoleSettings()
    except ValidationError as exc:
        print(f"console: invalid configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings.log_level)
    # No access log: a survey link's path is its credential, and logs never hold one.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                proxy_headers=True, access_log=False)  # fmt: skip
