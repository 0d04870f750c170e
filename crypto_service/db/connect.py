"""Opening and closing the database, and applying migrations.

Every open is bounded by `database_connect_timeout_seconds`, and any way it can fail (a URL
Tortoise does not know, a file SQLite cannot open, a server that refuses or never answers)
comes out as one exception, `CannotOpenDatabase`, whose text is the whole story for a user.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from contextlib import asynccontextmanager, suppress
from collections.abc import Awaitable, Callable
from typing import Any, AsyncIterator

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import ConfigurationError
from tortoise.migrations.executor import MigrationExecutor

from ..settings import Settings
from .internals import expect, parameters

MODELS_MODULE = "crypto_service.db.models"
MIGRATIONS_PACKAGE = "crypto_service.db.migrations"
APPLICATION_NAME = "crypto-service"

# Opening eagerly and reading the migration plan without Tortoise's `migrate` (whose dry run
# writes) go through these two, which Tortoise does not document as public API.
expect(parameters(BaseDBAsyncClient.create_connection) == ["self", "with_db"]
       and parameters(MigrationExecutor.__init__) == ["self", "connection", "apps_config"]
       and parameters(MigrationExecutor.plan) == ["self", "targets"],
       "tortoise-orm", "BaseDBAsyncClient.create_connection(with_db) or "
       "MigrationExecutor(connection, apps_config).plan(targets) changed")

APPS = {
    "models": {
        "models": [MODELS_MODULE],
        "default_connection": "default",
        "migrations": MIGRATIONS_PACKAGE,
    }
}

# Keys of Tortoise's parsed PostgreSQL URL that a plain asyncpg connection takes as they are.
_ASYNCPG_KEYS = ("host", "port", "user", "password", "database", "ssl")


# Opens one dedicated connection (`connect_dedicated` bound to its settings and purpose).
Connect = Callable[[], Awaitable[asyncpg.Connection]]


class CannotOpenDatabase(RuntimeError):
    """The URL is not a database Tortoise knows, or the database cannot be reached or opened
    within the connect timeout."""


class DatabaseNotReady(RuntimeError):
    """The database has no tables yet, or migrations that are not applied."""


def is_sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite:")


def tortoise_config(settings: Settings) -> dict[str, Any]:
    connection = expand_db_url(settings.database_url)
    credentials = connection["credentials"]
    if is_sqlite(settings.database_url):
        connection["engine"] = "crypto_service.db.sqlite_engine"
        credentials.setdefault("journal_mode", "WAL")
        credentials.setdefault("busy_timeout", settings.sqlite_busy_timeout_ms)
        credentials.setdefault("synchronous", "NORMAL")
    else:
        connection["engine"] = "crypto_service.db.asyncpg_engine"
        credentials.setdefault("minsize", 1)
        credentials.setdefault("maxsize", settings.db_pool_size)
        # Operators find the service's sessions in pg_stat_activity by this name.
        credentials.setdefault("application_name", APPLICATION_NAME)
        server_settings = credentials.setdefault("server_settings", {})
        server_settings.setdefault("lock_timeout", f"{settings.postgres_lock_timeout_ms}ms")
        # asyncpg's own connect timeout, for every connection the pool opens (at start and
        # after a lost connection), not only the first.
        credentials.setdefault("timeout", settings.database_connect_timeout_seconds)
    return {
        "connections": {"default": connection},
        "apps": APPS,
        "use_tz": True,
        "timezone": "UTC",
    }


async def connect_dedicated(settings: Settings, purpose: str) -> asyncpg.Connection:
    """A PostgreSQL connection of its own, outside the pool (LISTEN, the writer's advisory
    lock), made from the URL as Tortoise parses it: `postgres://`, `postgresql://` and
    `asyncpg://` all work here as they do for the pool (asyncpg alone rejects `asyncpg://`).
    `pg_stat_activity` shows it as `crypto-service <purpose>`."""
    credentials = tortoise_config(settings)["connections"]["default"]["credentials"]
    arguments = {key: credentials[key] for key in _ASYNCPG_KEYS if key in credentials}
    return await asyncpg.connect(**arguments, timeout=settings.database_connect_timeout_seconds,
                                 server_settings={"application_name": dedicated_name(purpose)})


def dedicated_name(purpose: str) -> str:
    """How `pg_stat_activity` names a dedicated connection."""
    return f"{APPLICATION_NAME} {purpose}"


async def close_dedicated(connection: asyncpg.Connection) -> None:
    """Closes gracefully if the server answers within a second; otherwise asyncpg drops the
    socket. A dead peer (a restarted server, a terminated backend) is not waited for."""
    with suppress(Exception):
        await connection.close(timeout=1)


async def open_database(settings: Settings, *, require_migrated: bool = False) -> None:
    """Tortoise initialised, with its connection (SQLite) or pool (PostgreSQL) open now rather
    than at the first query, so that a database that cannot be opened fails here, once, within
    the connect timeout (`CannotOpenDatabase`).

    `require_migrated` is for commands that use an existing database: they never create a
    SQLite file, and refuse a database without its tables (`DatabaseNotReady`)."""
    url = redact(settings.database_url)
    try:
        config = tortoise_config(settings)
    except ConfigurationError as exc:
        raise CannotOpenDatabase(f"cannot open database {url}: {_one_line(exc)}") from None
    path = _sqlite_file(config)
    if require_migrated and path is not None and not os.path.exists(path):
        directory = os.path.dirname(path) or "."
        missing = f"no such directory {directory}" if not os.path.isdir(directory) \
            else "no such file: run `crypto migrate` to create it"
        raise CannotOpenDatabase(f"cannot open database {url}: {missing}")
    timeout = settings.database_connect_timeout_seconds
    try:
        if path is not None:
            # sqlite3 first, on this thread: when aiosqlite fails to open a file, its worker
            # thread reports the failure to the event loop later, and if that loop has closed
            # by then (the command is exiting), a second traceback follows the error.
            sqlite3.connect(path).close()
        async with asyncio.timeout(timeout):
            await Tortoise.init(config=config)
            await connections.get("default").create_connection(with_db=True)
    except Exception as exc:
        await _discard_connections()
        reason = f"no answer within {timeout:g}s" if isinstance(exc, TimeoutError) \
            else _one_line(exc)
        raise CannotOpenDatabase(f"cannot open database {url}: {reason}") from exc
    if require_migrated:
        try:
            pending = await unapplied_migrations()
        except BaseException:
            await _discard_connections()
            raise
        if pending:
            await close_database()
            raise DatabaseNotReady(f"database {url} has {len(pending)} unapplied migrations "
                                   f"({', '.join(pending)}): run `crypto migrate`")


async def close_database() -> None:
    await Tortoise.close_connections()


async def _discard_connections() -> None:
    """After a failed open: whatever was half made goes, without hiding the error that brought
    us here and without waiting on a server that does not answer."""
    with suppress(Exception):
        async with asyncio.timeout(1):
            await Tortoise.close_connections()


@asynccontextmanager
async def database(settings: Settings, *, require_migrated: bool = False
                   ) -> AsyncIterator[None]:
    await open_database(settings, require_migrated=require_migrated)
    try:
        yield
    finally:
        await close_database()


def _migrations() -> MigrationExecutor:
    return MigrationExecutor(connections.get("default"), APPS)


async def unapplied_migrations() -> list[str]:
    """On the open database: the migrations not applied yet. It only reads (a dry run of
    Tortoise's `migrate` would create its bookkeeping table)."""
    plan = await _migrations().plan()
    return [f"{step.migration.app_label}.{step.migration.name}" for step in plan
            if not step.backward]


async def pending_migrations(settings: Settings) -> list[str]:
    """Names of the migrations not yet applied to the database."""
    async with database(settings):
        return await unapplied_migrations()


async def apply_migrations(settings: Settings) -> None:
    async with database(settings):
        await _migrations().migrate()


def redact(database_url: str) -> str:
    """The URL without its password, for logs and messages."""
    scheme, sep, rest = database_url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at or ":" not in credentials:
        return database_url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{location}"


def _sqlite_file(config: dict[str, Any]) -> str | None:
    connection = config["connections"]["default"]
    if connection["engine"] != "crypto_service.db.sqlite_engine":
        return None
    path = connection["credentials"]["file_path"]
    return None if path == ":memory:" else path


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
