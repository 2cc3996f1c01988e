"""``python -m services.satisfaction [serve|migrate|rebuild|rederive]``

``rebuild`` empties the derived store (facts, rollups, inbox) and refills it from the topics,
from their beginning to their current end, keeping the answers and surveys (records). Run it
with the service stopped. ``rederive`` sums the rollups again from the store."""

from pathlib import Path

from services.satisfaction.rebuild import main as rebuild
from services.satisfaction.rebuild import rederive_main
from services.satisfaction.settings import SatisfactionSettings
from shared.entrypoint import serve_or_migrate

MIGRATIONS = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    serve_or_migrate(
        SatisfactionSettings,
        "services.satisfaction.app:create_app",
        MIGRATIONS,
        commands={"rebuild": rebuild, "rederive": rederive_main},
    )
