"""``python -m services.intake [serve|migrate]``"""

from pathlib import Path

from services.intake.settings import IntakeSettings
from shared.entrypoint import serve_or_migrate

MIGRATIONS = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    serve_or_migrate(IntakeSettings, "services.intake.app:create_app", MIGRATIONS)
