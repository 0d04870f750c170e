"""Is the database answering, and how much of its pool is in use: for /readyz and metrics.

Reads Tortoise 1.1's clients: the asyncpg client's `_pool` (an asyncpg `Pool`, public API from
there on) and the SQLite client's `_lock` (held while its one connection is in use), checked
at import.
"""

from __future__ import annotations

import asyncio
import inspect

from tortoise import connections
from tortoise.backends.base_postgres.client import BasePostgresClient
from tortoise.backends.sqlite.client import SqliteClient

from .internals import expect


def _internals_as_expected() -> bool:
    return ("_pool" in vars(BasePostgresClient)
            and "self._lock = asyncio.Lock()" in inspect.getsource(SqliteClient.__init__))


expect(_internals_as_expected(), "tortoise-orm",
       "the database clients' _pool (PostgreSQL) or _lock (SQLite), which db/health.py reads")

PING_TIMEOUT_SECONDS = 2.0


async def unreachable_reason() -> str | None:
    """None when a trivial query answers within the timeout, else why not."""
    try:
        async with asyncio.timeout(PING_TIMEOUT_SECONDS):
            await connections.get("default").execute_query("SELECT 1")
    except TimeoutError:
        return f"database did not answer within {PING_TIMEOUT_SECONDS:g}s"
    except Exception as exc:  # refused, gone, dropped: each says the database is not usable
        return f"database unreachable: {type(exc).__name__}: {exc}"
    return None


def pool_usage(pool_size: int) -> tuple[int, int]:
    """Connections lent out now and the most the pool may open (`pool_size`, from settings;
    SQLite has one connection)."""
    client = connections.get("default")
    if isinstance(client, SqliteClient):
        return int(client._lock.locked()), 1
    pool = getattr(client, "_pool", None)
    if pool is None:  # not connected yet
        return 0, pool_size
    return pool.get_size() - pool.get_idle_size(), pool_size
