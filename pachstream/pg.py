"""The PostgreSQL transport: the only module that imports asyncpg.

Each namespace is a schema; a pool's connections have ``search_path`` set to it, so SQL names
tables without a schema. Migrations are numbered lists of SQL per component, applied on start
inside one transaction under one advisory lock shared by all components; a database newer
than the code stops the component with a clear message instead of misreading tables.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

import asyncpg

from pachstream.errors import ConfigError, Unavailable
from pachstream.security import redact
from pachstream.settings import PostgresSettings

Pool = asyncpg.Pool
Connection = asyncpg.Connection
UniqueViolation = asyncpg.UniqueViolationError
UndefinedTable = asyncpg.UndefinedTableError

_LOST = (
    ConnectionError,  # refused, reset, broken pipe: the server is gone or restarting
    TimeoutError,
    asyncpg.PostgresConnectionError,  # connection was closed in the middle of operation
    asyncpg.CannotConnectNowError,  # the database system is starting up
    asyncpg.AdminShutdownError,  # terminating connection due to unexpected postmaster exit
    asyncpg.InterfaceError,  # the underlying connection is closed
    # "another operation is in progress": a pooled connection left mid-operation by a lost
    # server (seen after Postgres SIGKILL in the chaos campaign); a fresh instance clears it.
    asyncpg.InternalClientError,
)


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection to PostgreSQL was lost or cannot be made yet (the
    server restarts), as opposed to a statement PostgreSQL refused. Pure.
    """
    return isinstance(exc, _LOST)


class _Connection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection that is released without a round trip unless it listened.

    asyncpg resets every released connection with one query (advisory unlock, CLOSE ALL,
    UNLISTEN *, RESET ALL): one more round trip after every transaction, and for the S3
    gateway as many socket writes as its own queries (~1,078 resets per 1,000 PUTs). None
    of that state is made here but LISTEN: locks are transaction-scoped
    (``pg_advisory_xact_lock``), cursors live in transactions, no statement SETs a session
    variable (``search_path`` is a startup setting, which RESET ALL keeps anyway). An open
    transaction is still rolled back (asyncpg does that before the reset query), and a
    connection that listened gets the whole reset.
    """

    _listened = False

    async def add_listener(self, channel: str, callback: Any) -> None:
        """LISTEN, and mark the connection for the full reset on release."""
        self._listened = True
        await super().add_listener(channel, callback)

    def get_reset_query(self) -> str:
        """The reset query: asyncpg's for a connection that listened, else none."""
        query: str = super().get_reset_query() if self._listened else ""
        return query


async def connect_pool(
    settings: PostgresSettings, schema: str, *, min_size: int = 1, max_size: int = 4
) -> Any:
    """A pool whose connections work inside ``schema`` (created when missing)."""
    last: Exception | None = None
    for _ in range(40):
        try:
            # search_path names the schema before it exists: Postgres resolves it per
            # statement, so the CREATE below needs no connection of its own.
            pool = await asyncpg.create_pool(
                settings.dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=5,
                server_settings={"search_path": schema},
                connection_class=_Connection,
            )
            break
        except (TimeoutError, OSError, asyncpg.CannotConnectNowError) as exc:
            last = exc
            await asyncio.sleep(0.25)
    else:
        raise Unavailable(
            f"PostgreSQL at {redact(settings.dsn)} did not answer: {last}; "
            "is 'pachstream up' running?"
        ) from last
    try:
        await pool.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    except asyncpg.UniqueViolationError:
        pass  # created concurrently by another component
    return pool


async def migrate(pool: Any, component: str, migrations: Sequence[str]) -> int:
    """Apply the component's pending migrations; returns the schema version now in place."""
    # One lock for every component: they share the schema_migrations table, and concurrent
    # CREATE TABLE IF NOT EXISTS races in Postgres (a unique violation on pg_type).
    lock = int.from_bytes(hashlib.sha256(b"pachstream-migrations").digest()[:7], "big")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(component text PRIMARY KEY, version integer NOT NULL)"
        )
        current = await conn.fetchval(
            "SELECT version FROM schema_migrations WHERE component = $1", component
        )
        current = current or 0
        if current > len(migrations):
            raise ConfigError(
                f"the database schema of '{component}' is at version {current}, newer than this "
                f"pachstream knows ({len(migrations)}); upgrade pachstream to use this database"
            )
        for sql in migrations[current:]:
            await conn.execute(sql)
        await conn.execute(
            "INSERT INTO schema_migrations VALUES ($1, $2) "
            "ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
            component,
            len(migrations),
        )
    return len(migrations)
