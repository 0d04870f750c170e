"""Tortoise's SQLite backend with `BEGIN IMMEDIATE` transactions.

A deferred `BEGIN` takes its write lock at the first write; when another process holds it,
SQLite cannot wait for it there (that could deadlock two readers turned writers) and fails at
once with "database is locked". `BEGIN IMMEDIATE` takes the write lock up front and waits up to
the busy timeout, so write transactions from several processes queue instead of failing.
"""

from __future__ import annotations

import sqlite3

from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.exceptions import OperationalError


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise OperationalError(exc) from exc


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self) -> SqliteTransactionContext:
        return SqliteTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient
