"""What a transaction of the consumer writes at its end, in one statement: the changed
facts saved and the rollup increments added (a data-modifying CTE beside the rollups')."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.satisfaction.domain.contribution import Contribution
from services.satisfaction.domain.facts import Facts
from services.satisfaction.store import repository as repo
from services.satisfaction.store import rollups

# The facts rows are locked by this transaction already: no new lock order to keep. The
# parameters do not clash: the rollups' are prefixed (d_, r_, m_, f_), the facts' are columns.
_SAVE_AND_ADD = sa.text(f"{rollups.WITH_CTES}, s AS ({repo.SAVE_FACTS}) {rollups.DAILY}")


async def save_and_add(session: AsyncSession, found: list[Facts], change: Contribution) -> None:
    """``repository.save_facts_many(found)`` and ``rollups.apply(change)``, one round trip."""
    params = rollups.increments(change)
    if params is None:
        await repo.save_facts_many(session, found)
    elif not found:
        await session.execute(rollups.APPLY, params)
    else:
        await session.execute(_SAVE_AND_ADD, params | repo.saved_facts(found))
