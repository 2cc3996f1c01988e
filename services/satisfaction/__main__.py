"""``python -m services.satisfaction [serve|migrate|rebuild]``

``rebuild`` empties the derived store (facts, surveys, answers, rollups, inbox) and refills it
from the topics, from their beginning to their current end. Run it with the service stopped."""

import sys
from pathlib import Path

from services.satisfaction.settings import SatisfactionSettings
from shared.entrypoint import serve_or_migrate

MIGRATIONS = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    if sys.argv[1:2] == ["rebuild"]:
        from services.satisfaction.rebuild import main

        main(MIGRATIONS)
    else:
        serve_or_migrate(SatisfactionSettings, "services.satisfaction.app:create_app", MIGRATIONS)
