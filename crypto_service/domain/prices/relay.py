"""Brings prices written by any process into this process's hub.

One relay per process, never one per stream. PostgreSQL: a LISTEN on a dedicated connection
wakes it when a price transaction commits anywhere. SQLite: it checks the coin table's version
every poll interval. Either way it publishes the catalog's quotes, and the hub keeps only the
ones newer than it holds.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from ...db.connect import is_sqlite
from ..catalog import NOTIFY_CHANNEL, Catalog, CatalogCache
from .hub import PriceHub, quote_of

log = logging.getLogger("crypto_service.prices")

# With LISTEN, polling is only a safety net for a notification lost with its connection.
LISTEN_FALLBACK_SECONDS = 30.0


class PriceRelay:
    def __init__(self, hub: PriceHub, catalog: CatalogCache, database_url: str,
                 poll_seconds: float) -> None:
        self.hub = hub
        self.catalog = catalog
        self.database_url = database_url
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._connection: asyncpg.Connection | None = None
        self._seen: Catalog | None = None

    async def run(self) -> None:
        listening = not is_sqlite(self.database_url)
        if listening:
            self._connection = await asyncpg.connect(self.database_url)
            await self._connection.add_listener(NOTIFY_CHANNEL, self._notified)
        wait = LISTEN_FALLBACK_SECONDS if listening else self.poll_seconds
        try:
            while True:
                try:
                    await self.refresh()
                except Exception:  # a busy or lost database: the next round tries again
                    log.exception("price relay refresh failed")
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    pass
                self._wake.clear()
        finally:
            if self._connection is not None:
                await self._connection.close()
                self._connection = None

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    async def refresh(self) -> None:
        catalog = await self.catalog.refresh()
        if catalog is not self._seen:
            self._seen = catalog
            self.hub.publish(quote_of(c) for c in catalog.coins)
