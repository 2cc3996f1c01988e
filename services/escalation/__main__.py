"""``python -m services.escalation [serve|migrate]``"""

import gc
from pathlib import Path

from services.escalation.app import load_staff
from services.escalation.policy_file import load_policy
from services.escalation.settings import EscalationSettings
from shared.entrypoint import serve_or_migrate

MIGRATIONS = Path(__file__).parent / "migrations"

# The garbage collector: each event allocates hundreds of short-lived objects, nearly all
# freed by reference counting. At the default threshold (700) the collector runs every few
# events, moves a batch's live objects up the generations and then sweeps the whole heap
# again and again: on a backlog, a third of the consumer's CPU. Collect rarely, and never
# look again at what start-up built.
GC_THRESHOLDS = (50_000, 20, 100)

if __name__ == "__main__":
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()
    # A bad policy or staff directory stops the service before anything else, with the line
    # and the problem.
    serve_or_migrate(
        EscalationSettings,
        "services.escalation.app:create_app",
        MIGRATIONS,
        check=lambda settings: load_staff(settings, load_policy(settings.policy_file)),
    )
