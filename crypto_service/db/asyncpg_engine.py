"""Tortoise's asyncpg backend, with transactions that give their connection back when `BEGIN`
fails.

Tortoise's pooled transaction context takes a connection from the pool, then sends `BEGIN`;
when that fails (the connection was terminated while idle in the pool: a PostgreSQL restart,
`pg_terminate_backend`, a failover) the connection is never released, and the pool has one
connection fewer for good: after a few such faults every call waits for a connection. This
context releases it (asyncpg's pool replaces a closed connection on the next acquire).
Tortoise's methods this relies on are checked at import (db/internals.py).
"""

from __future__ import annotations

from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import (
    TransactionalDBClient,
    TransactionContext,
    TransactionContextPooled,
)
from tortoise.connection import get_connections

from .internals import expect_unchanged

expect_unchanged(__name__, {
    AsyncpgDBClient._in_transaction: "7b69b0ac03b92713",
    TransactionContextPooled.__aenter__: "d1d36e1539e5022b",
    TransactionContextPooled.__aexit__: "0bfdb9b58faf3dc7",
})


class ReleasingTransactionContext(TransactionContextPooled):
    async def __aenter__(self) -> TransactionalDBClient:
        await self.ensure_connection()
        pool = self.client._parent._pool
        self.client._connection = await pool.acquire()
        try:
            self.token = get_connections().set(self.connection_name, self.client)
            try:
                await self.client.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            await pool.release(self.client._connection)
            raise
        return self.client


class ReleasingAsyncpgClient(AsyncpgDBClient):
    def _in_transaction(self) -> TransactionContext:
        return ReleasingTransactionContext(TransactionWrapper(self), self._pool_init_lock)


client_class = ReleasingAsyncpgClient
