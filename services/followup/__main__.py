"""``python -m services.followup [serve|migrate]``"""

from pathlib import Path

from services.followup.domain.policy import load_policy
from services.followup.settings import FollowupSettings
from shared.entrypoint import serve_or_migrate

MIGRATIONS = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    # A bad policy stops the service before anything else, with the line and the problem.
    serve_or_migrate(
        FollowupSettings,
        "services.followup.app:create_app",
        MIGRATIONS,
        check=lambda settings: load_policy(settings.policy_file),
    )
