"""Database engine and the errors that mean "the database is unavailable"."""

from __future__ import annotations

import asyncio
import socket

import asyncpg
from sqlalchemy import MetaData
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

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


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=5,
        # A dead server must fail a request quickly (503), not hang it.
        connect_args={"timeout": 3, "command_timeout": 30},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


_UNAVAILABLE = (
    OSError,
    socket.gaierror,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.TooManyConnectionsError,
    InterfaceError,
    OperationalError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached, not that a query was wrong."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, DBAPIError) and isinstance(exc.orig, BaseException):
        cause = exc.orig.__cause__ or exc.orig
        return isinstance(cause, _UNAVAILABLE) or isinstance(exc, _UNAVAILABLE)
    return isinstance(exc, _UNAVAILABLE)
