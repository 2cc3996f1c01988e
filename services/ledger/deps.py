"""What the ledger's handlers and use cases share: topics, settings, the taxonomy, the
calendar clock, and how to publish through the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger.domain.periods import SiteClock
from services.ledger.domain.review import Taxonomy, load_taxonomy
from services.ledger.settings import LedgerSettings
from shared.events.common import EventData
from shared.events.envelope import new_event
from shared.events.topics import Topics
from shared.messaging import outbox

SOURCE = "/complaint-platform/ledger"


@dataclass(frozen=True)
class Deps:
    topics: Topics
    settings: LedgerSettings
    taxonomy: Taxonomy
    clock: SiteClock

    @classmethod
    def of(cls, settings: LedgerSettings, topics: Topics) -> Deps:
        """What the settings name: the taxonomy file read, the site's clock as of now."""
        return cls(
            topics=topics,
            settings=settings,
            taxonomy=load_taxonomy(settings.taxonomy_file),
            clock=settings.clock(datetime.now(UTC)),
        )

    async def publish(
        self, session: AsyncSession, key: str, data: EventData, at: datetime | None = None
    ) -> None:
        await outbox.add(session, self.topics.ledger, [new_event(SOURCE, key, data, time=at)])
