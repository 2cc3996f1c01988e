"""Waking a polling loop early: PostgreSQL NOTIFY on a channel (sent by a trigger when rows
are inserted) ends the loop's sleep, so an idle loop can poll rarely and still react at once.

The listening connection is the loop's own: a loop may also run its short, frequent
statements on it (``connection``) rather than take a pooled one through SQLAlchemy, which at
a low rate costs about twice the CPU of the statements themselves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import SERVER_SETTINGS


class Notifications:
    """``wakes``: given a notification's payload, whether it should end the sleep (by
    default every one does)."""

    def __init__(
        self, engine: AsyncEngine, channel: str, wakes: Callable[[str], bool] | None = None
    ) -> None:
        self.engine = engine
        self.channel = channel
        self.wakes = wakes
        self._arrived = asyncio.Event()
        self._connection: asyncpg.Connection | None = None

    async def listen(self) -> None:
        """(Re)open the dedicated LISTEN connection when it is not open."""
        await self.connection()

    async def connection(self) -> asyncpg.Connection:
        """The listening connection, (re)opened when it is not open. Statements run on it
        must not outlive a round of the loop: notifications arrive between them."""
        if self._connection is not None and not self._connection.is_closed():
            return self._connection
        url = self.engine.url.set(drivername="postgresql")
        connection = await asyncpg.connect(
            url.render_as_string(hide_password=False),
            timeout=3,
            command_timeout=30,
            # As the engine's (no parameters in the server's log), and named for whoever
            # looks at pg_stat_activity.
            server_settings={**SERVER_SETTINGS, "application_name": f"{self.channel} listener"},
        )
        await connection.add_listener(self.channel, self._notified)
        self._connection = connection
        return connection

    def _notified(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        if self.wakes is None or self.wakes(payload):
            self._arrived.set()

    def clear(self) -> None:
        """Forget notifications so far: call before looking at the table."""
        self._arrived.clear()

    async def wait(self, stop: asyncio.Event, seconds: float) -> None:
        """Sleep until a notification (since ``clear``), ``stop``, or ``seconds`` pass."""
        if seconds <= 0:
            return
        waiters = [asyncio.ensure_future(self._arrived.wait()), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close(timeout=1)
            self._connection = None


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    """A back-off after a failure: notifications must not cut it short (they keep coming
    while Kafka or the database is down), only ``stop`` does."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
