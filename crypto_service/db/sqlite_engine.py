"""Tortoise's SQLite backend with `BEGIN IMMEDIATE` transactions that cannot leak their lock.

A deferred `BEGIN` takes its write lock at the first write; when another process holds it,
SQLite cannot wait for it there (that could deadlock two readers turned writers) and fails at
once with "database is locked". `BEGIN IMMEDIATE` takes the write lock up front and waits up to
the busy timeout, so write transactions from several processes queue instead of failing.

When it still fails (another process kept the lock past the busy timeout), Tortoise's
transaction context would keep its own in-process lock, taken before `begin()`, and every
later query of the process would wait for it for good. `ImmediateTransactionContext` gives
it back; the error is SQLITE_BUSY, which db/errors.py classifies as a retryable lost race.
Tortoise's methods this relies on are checked at import (db/internals.py).
"""

from __future__ import annotations

import sqlite3
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.exceptions import OperationalError

from .internals import expect_unchanged

expect_unchanged(__name__, {
    SqliteClient._in_transaction: "b88a8cbe14900dc5",
    SqliteTransactionContext.__aenter__: "2206040f64f9f0c1",
    SqliteTransactionContext.__aexit__: "d5d212567f1611e6",
    SqliteTransactionWrapper.begin: "7f6ef711789672f3",
})


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise OperationalError(exc) from exc


class ImmediateTransactionContext(SqliteTransactionContext):
    """Tortoise's context, except that a failed or cancelled `begin()` releases the lock and
    the connection's context variable it took before."""

    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            self._trxlock.release()
            raise
        return self.connection


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self) -> SqliteTransactionContext:
        return ImmediateTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient
