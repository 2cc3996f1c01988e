"""``python -m services.ledger [serve|migrate]``"""

from pathlib import Path

from services.ledger.domain.review import load_taxonomy
from services.ledger.settings import LedgerSettings
from shared.entrypoint import serve_or_migrate

MIGRATIONS = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    # A bad taxonomy stops the service before anything else, with the line and the problem.
    serve_or_migrate(
        LedgerSettings,
        "services.ledger.app:create_app",
        MIGRATIONS,
        check=lambda settings: load_taxonomy(settings.taxonomy_file),
    )
