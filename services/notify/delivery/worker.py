"""The delivery worker: lanes that each lock one due message (``FOR UPDATE SKIP LOCKED``, so
lanes and replicas share the work and never send the same message at once), send it, and in
the same transaction record the outcome and its event (``message.sent``, or after the last
attempt ``message.failed``) in the outbox. A crash before that commit leaves the message
pending: it is sent again (at least once; the Message-ID / X-Message-Id lets a receiver
drop the repeat). An idle lane sleeps until the next due message or a NOTIFY."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import httpx
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.notify.delivery.senders import DeliveryError, Senders, describe
from services.notify.domain.messages import CUSTOMER, Recipient, Retry, Status, after_failure
from services.notify.store import repository as repo
from services.notify.usecases import Deps
from shared.db import is_unavailable
from shared.events.envelope import new_event
from shared.events.notify import DeliveryChannel, MessageFailed, MessageSent, RecipientKind
from shared.messaging import outbox
from shared.notifications import Notifications, sleep_unless_stopped

log = logging.getLogger(__name__)

SOURCE = "/complaint-platform/notify"

SENT = Counter("notify_messages_sent_total", "Messages delivered", ["channel", "template"])
ATTEMPT_FAILED = Counter(
    "notify_delivery_attempts_failed_total", "Delivery attempts that failed", ["channel"]
)
PARKED = Counter(
    "notify_messages_failed_total", "Messages parked as failed", ["channel", "template"]
)
BY_STATUS = Gauge("notify_messages", "Messages by status (pending, sent, failed)", ["status"])


class NoAddress(DeliveryError):
    pass


class DeliveryWorker:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        deps: Deps,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        settings = deps.settings
        self.engine = engine
        self.sessions = sessions
        self.deps = deps
        self.http = http or httpx.AsyncClient(timeout=settings.http_timeout_seconds)
        self.senders = Senders(settings, self.http)
        self.retry = Retry(
            settings.delivery_max_attempts,
            timedelta(seconds=settings.delivery_backoff_seconds),
            timedelta(seconds=settings.delivery_backoff_max_seconds),
        )
        self._notes = Notifications(engine, "messages")
        self._listening = asyncio.Lock()  # lanes share one LISTEN connection: open it once

    # ---- one message ----------------------------------------------------------------------

    async def deliver_one(self) -> bool:
        """Deliver (or fail an attempt of) one due message; False when none is due."""
        async with self.sessions.begin() as session:
            message = await repo.claim_due(session, self.deps.clock())
            if message is None:
                return False
            recipient = Recipient(
                RecipientKind(message["recipient_kind"]),
                message["recipient"],
                DeliveryChannel(message["channel"]),
                message["language"],
            )
            try:
                await self._send(session, message, recipient)
            except DeliveryError as exc:
                await self._failed(session, message, recipient, str(exc), exc.permanent)
            except Exception as exc:
                if is_unavailable(exc):
                    raise
                log.exception(
                    "delivery: unexpected error", extra={"message_id": str(message["id"])}
                )
                await self._failed(session, message, recipient, describe(exc), False)
            else:
                await self._sent(session, message)
        return True

    async def _send(
        self, session: AsyncSession, message: dict[str, Any], recipient: Recipient
    ) -> None:
        address = await self._address(session, message, recipient)
        if recipient.channel == DeliveryChannel.EMAIL:
            await self.senders.email(message, address)
        elif recipient.channel == DeliveryChannel.WEBHOOK:
            await self.senders.webhook(message, address)
        else:
            await self.senders.sms(message, address)

    async def _address(
        self, session: AsyncSession, message: dict[str, Any], recipient: Recipient
    ) -> str:
        """Looked up now, not when the message was written: the latest contact data and
        directory entry count."""
        found: str | None = None
        directory = self.deps.directory
        if recipient.kind == RecipientKind.CUSTOMER and message["complaint_id"] is not None:
            contact = await repo.get_contact(session, message["complaint_id"])
            if contact is not None:
                found = contact["phone" if recipient.channel == DeliveryChannel.SMS else "email"]
        elif recipient.kind == RecipientKind.STAFF:
            person = directory.person(recipient.id)
            if person is not None:
                found = person.webhook if recipient.channel == DeliveryChannel.WEBHOOK else (
                    person.email
                )  # fmt: skip
        elif recipient.kind == RecipientKind.TEAM:
            team = directory.team(recipient.id)
            if team is not None:
                found = team.webhook if recipient.channel == DeliveryChannel.WEBHOOK else (
                    team.email
                )  # fmt: skip
        if not found:
            who = "the customer" if recipient.id == CUSTOMER else recipient.id
            # Not permanent: the contact may arrive with an event not consumed yet.
            raise NoAddress(f"no {recipient.channel.value} address known for {who}")
        return found

    async def _sent(self, session: AsyncSession, message: dict[str, Any]) -> None:
        now = self.deps.clock()
        attempts = message["attempts"] + 1
        await repo.update_message(
            session,
            message["id"],
            {"status": Status.SENT.value, "attempts": attempts, "sent_at": now,
             "last_error": None, "updated_at": now},
        )  # fmt: skip
        sent = MessageSent(
            message_id=message["id"],
            cause_event_id=message["cause_event_id"],
            complaint_id=message["complaint_id"],
            recipient_kind=message["recipient_kind"],
            recipient=message["recipient"],
            channel=message["channel"],
            template=message["template"],
            attempts=attempts,
            at=now,
        )
        await outbox.add(
            session, self.deps.topics.notify, [new_event(SOURCE, message["key"], sent, time=now)]
        )
        SENT.labels(message["channel"], message["template"]).inc()
        log.info(
            "message sent",
            extra={"message_id": str(message["id"]), "template": message["template"],
                   "channel": message["channel"], "attempts": attempts},
        )  # fmt: skip

    async def _failed(
        self,
        session: AsyncSession,
        message: dict[str, Any],
        recipient: Recipient,
        error: str,
        permanent: bool,
    ) -> None:
        now = self.deps.clock()
        attempts = message["attempts"] + 1
        ATTEMPT_FAILED.labels(message["channel"]).inc()
        then = after_failure(attempts, permanent, now, self.retry, recipient, self.deps.quiet)
        changes: dict[str, Any] = {
            "status": then.status.value,
            "attempts": attempts,
            "last_error": error,
            "updated_at": now,
        }
        if then.status == Status.PENDING:
            assert then.next_attempt_at is not None
            changes["next_attempt_at"] = then.next_attempt_at
            await repo.update_message(session, message["id"], changes)
            log.warning(
                "delivery failed; will retry",
                extra={"message_id": str(message["id"]), "attempts": attempts, "error": error,
                       "next_attempt_at": then.next_attempt_at.isoformat()},
            )  # fmt: skip
            return
        changes["failed_at"] = now
        await repo.update_message(session, message["id"], changes)
        failed = MessageFailed(
            message_id=message["id"],
            cause_event_id=message["cause_event_id"],
            complaint_id=message["complaint_id"],
            recipient_kind=message["recipient_kind"],
            recipient=message["recipient"],
            channel=message["channel"],
            template=message["template"],
            attempts=attempts,
            error=error,
            at=now,
        )
        await outbox.add(
            session,
            self.deps.topics.notify,
            [new_event(SOURCE, message["key"], failed, time=now)],
        )
        PARKED.labels(message["channel"], message["template"]).inc()
        log.error(
            "delivery failed; message parked as failed",
            extra={"message_id": str(message["id"]), "attempts": attempts, "error": error},
        )

    # ---- the loop -------------------------------------------------------------------------

    async def seconds_until_next(self) -> float:
        async with self.sessions() as session:
            due = await repo.next_due(session)
        limit = self.deps.settings.delivery_max_sleep_seconds
        if due is None:
            return limit
        return max(0.0, min((due - self.deps.clock()).total_seconds(), limit))

    async def refresh_gauges(self) -> None:
        async with self.sessions() as session:
            counts = await repo.count_by_status(session)
        for status in Status:
            BY_STATUS.labels(status.value).set(counts.get(status.value, 0))

    async def _lane(self, stop: asyncio.Event, gauges: bool) -> None:
        backoff = 0.5
        refreshed = float("-inf")
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                async with self._listening:
                    await self._notes.listen()
                self._notes.clear()
                if gauges and loop.time() - refreshed > 5:
                    refreshed = loop.time()
                    await self.refresh_gauges()
                if await self.deliver_one():
                    continue
                await self._notes.wait(stop, await self.seconds_until_next())
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_unavailable(exc):
                    log.warning("delivery: database unavailable", extra={"error": str(exc)})
                    await self._notes.close()
                else:
                    log.exception("delivery lane failed")
                await sleep_unless_stopped(stop, backoff)
                backoff = min(backoff * 2, 5.0)

    async def close(self) -> None:
        await self.http.aclose()
        await self._notes.close()

    async def run(self, stop: asyncio.Event) -> None:
        lanes = self.deps.settings.delivery_workers
        try:
            await asyncio.gather(*(self._lane(stop, gauges=i == 0) for i in range(lanes)))
        finally:
            await self._notes.close()
