"""Brings prices written by any process into this process's hub.

One relay per process, never one per stream. PostgreSQL: a LISTEN on a dedicated connection
wakes it when a price transaction commits anywhere. SQLite: it checks the coin table's version
every poll interval. Either way it publishes the catalog's quotes, and the hub keeps only the
ones newer than it holds.

`run` ends with an exception on any fault (the LISTEN connection lost or not made, a refresh
that fails) and is run under `supervisor.supervise`, which starts it again after a backoff: a
new LISTEN connection, then a refresh at once, which brings in whatever was written while it
was away. `reachable` tells the server whether the feed is live (its health check for the
price stream): false from a fault until the next refresh succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from ...db.connect import Connect, close_dedicated
from ..catalog import NOTIFY_CHANNEL, Catalog, CatalogCache
from .hub import PriceHub, quote_of

log = logging.getLogger("crypto_service.prices")

RELAY = "price relay"  # its LISTEN connection's purpose (application_name)

# With LISTEN, polling is only a safety net for a notification that never came.
LISTEN_FALLBACK_SECONDS = 30.0


class ListenConnectionLost(ConnectionError):
    pass


class PriceRelay:
    def __init__(self, hub: PriceHub, catalog: CatalogCache, *, listen: Connect | None,
                 poll_seconds: float,
                 reachable: Callable[[bool], None] = lambda _live: None) -> None:
        """`listen` opens the LISTEN connection (PostgreSQL); None polls (SQLite)."""
        self.hub = hub
        self.catalog = catalog
        self.listen = listen
        self.poll_seconds = poll_seconds
        self.reachable = reachable
        self._wake = asyncio.Event()
        self._seen: Catalog | None = None
        self._live: bool | None = None

    async def run(self) -> None:
        connection: asyncpg.Connection | None = None
        try:
            if self.listen is not None:
                connection = await self.listen()
                connection.add_termination_listener(self._closed)
                await connection.add_listener(NOTIFY_CHANNEL, self._notified)
            wait = LISTEN_FALLBACK_SECONDS if connection is not None else self.poll_seconds
            while True:
                await self.refresh()
                self._report(True)
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    pass
                self._wake.clear()
                if connection is not None and connection.is_closed():
                    raise ListenConnectionLost("the LISTEN connection was closed")
        except Exception:
            self._report(False)
            raise
        finally:
            if connection is not None:
                await close_dedicated(connection)

    def _report(self, live: bool) -> None:
        if live == self._live:
            return
        if live and self._live is False:  # the failure was logged by the supervisor
            log.info("price relay is live again")
        self._live = live
        self.reachable(live)

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    def _closed(self, _connection: object) -> None:
        self._wake.set()

    async def refresh(self) -> None:
        catalog = await self.catalog.refresh()
        if catalog is not self._seen:
            self._seen = catalog
            self.hub.publish(quote_of(c) for c in catalog.coins)
