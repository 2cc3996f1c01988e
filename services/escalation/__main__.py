"""``python -m services.escalation [serve|migrate]``"""

from pathlib import Path

from services.escalation.app import load_staff
from services.escalation.policy_file import load_policy
from services.escalation.settings import EscalationSettings
from shared.entrypoint import serve_or_migrate

MIGRATIONS = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    # A bad policy or staff directory stops the service before anything else, with the line
    # and the problem.
    serve_or_migrate(
        EscalationSettings,
        "services.escalation.app:create_app",
        MIGRATIONS,
        check=lambda settings: load_staff(settings, load_policy(settings.policy_file)),
    )
