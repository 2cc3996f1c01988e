"""Database engine and the errors that mean "the database is unavailable"."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import asyncpg
from sqlalchemy import MetaData, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

# One naming convention so every service's Alembic autogenerate names constraints alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


# Per connection: statements run with bound parameters, and PostgreSQL would copy them into
# its log's context line when a statement fails if this were above 0.
SERVER_SETTINGS = {"log_parameter_max_length_on_error": "0"}


def create_engine(url: str, pool_size: int = 20) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        # No overflow: overflow connections are closed on return, so a steady load above the
        # pool size would open (and authenticate) a connection per request. Requests wait
        # for a pooled one instead, and get a 503 if none frees up in time.
        max_overflow=0,
        # No pre-ping: with asyncpg it costs three round trips (BEGIN, a ping, ROLLBACK) on
        # every checkout, i.e. every transaction of every service. A connection the server
        # closed (a restart, a cut) is known to asyncpg without asking: _discard_closed.
        pool_pre_ping=False,
        pool_timeout=10,
        # Errors name the statement, never its parameters: they hold customers' data, and
        # exception messages end up in logs.
        hide_parameters=True,
        # A dead server must fail a request quickly (503), not hang it. The server's log
        # never gets a failed statement's parameters, whatever the server's default.
        connect_args={"timeout": 3, "command_timeout": 30, "server_settings": SERVER_SETTINGS},
    )
    event.listen(engine.sync_engine, "checkout", _discard_closed)
    return engine


def _discard_closed(
    dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
) -> None:
    """A pooled connection the server has closed is replaced before use (the pool retries
    the checkout with a fresh one). One that dies silently fails its statement instead: a
    503 or a retry, as when the database goes away mid-request."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this connection")


async def driver_connection(bound: AsyncSession | AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a session's (or a connection's) transaction. The
    statements every transaction of every service runs (inbox, parked events, outbox relay)
    go straight to asyncpg: its prepared statement costs about 30 us of CPU, the same
    statement through SQLAlchemy's execution layer about 190 us.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, before its own first statement: begin
    it here, so that a statement sent to asyncpg first is inside the transaction and rolls
    back with it (tests/integration/test_consumer_batches.py fails otherwise)."""
    connection = await bound.connection() if isinstance(bound, AsyncSession) else bound
    adapter = await connection.get_raw_connection()
    dbapi = adapter.dbapi_connection
    if dbapi is not None and dbapi._transaction is None:  # type: ignore[attr-defined]
        await dbapi._start_transaction()  # type: ignore[attr-defined]
    return adapter.driver_connection


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


_UNAVAILABLE = (
    OSError,
    socket.gaierror,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.TooManyConnectionsError,
    # Raw asyncpg (a service's own pool beside the engine): a lost connection, a server
    # shutting down or restarting.
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InterfaceError,
    InterfaceError,
    OperationalError,
    PoolTimeout,  # every pooled connection busy for pool_timeout: overloaded, retry later
)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached, not that a query was wrong."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, DBAPIError) and isinstance(exc.orig, BaseException):
        cause = exc.orig.__cause__ or exc.orig
        return isinstance(cause, _UNAVAILABLE) or isinstance(exc, _UNAVAILABLE)
    return isinstance(exc, _UNAVAILABLE)
