"""``python -m services.followup [serve|migrate]``"""

from pathlib import Path

from services.followup.settings import FollowupSettings
from shared.entrypoint import serve_or_migrate

MIGRATIONS = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    serve_or_migrate(FollowupSettings, "services.followup.app:create_app", MIGRATIONS)
