"""``python -m services.escalation [serve|migrate]``"""

import sys
from pathlib import Path

from services.escalation.policy_file import PolicyError, load_policy
from services.escalation.settings import EscalationSettings
from shared.entrypoint import serve_or_migrate

MIGRATIONS = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    # A bad policy stops the service before anything else, with the line and the problem.
    try:
        load_policy(EscalationSettings().policy_file)
    except PolicyError as exc:
        print(f"escalation: invalid policy: {exc}", file=sys.stderr)
        sys.exit(2)
    serve_or_migrate(EscalationSettings, "services.escalation.app:create_app", MIGRATIONS)
