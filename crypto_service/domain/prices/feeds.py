"""The price machinery of one serving process: the relay always, the simulator when asked.
Started with the server and stopped in its drain."""

from __future__ import annotations

import asyncio
import logging
import random

from ..catalog import CatalogCache
from .hub import PriceHub
from .relay import PriceRelay
from .simulator import step
from .store import write_prices
from .writer_lock import WriterLock, writer_lock

log = logging.getLogger("crypto_service.prices")


async def simulate_step(hub: PriceHub, catalog: CatalogCache, seconds: float,
                        rng: random.Random) -> None:
    """One random-walk step for every active coin, written in one transaction and published
    here at once (other processes learn of it through their relay)."""
    coins = (await catalog.current()).active
    written = await write_prices(step(coins, seconds, rng))
    hub.publish(written.updated)


async def simulate(hub: PriceHub, catalog: CatalogCache, lock: WriterLock,
                   interval_seconds: float, rng: random.Random) -> None:
    """Every interval, a step if this process is the writer (or can become it)."""
    leading = False
    while True:
        try:
            if await lock.acquire():
                if not leading:
                    log.info("this process runs the market simulator")
                    leading = True
                await simulate_step(hub, catalog, interval_seconds, rng)
        except Exception:  # a busy or lost database: skip this step, try the next
            log.exception("simulator step failed")
        await asyncio.sleep(interval_seconds)


class PriceFeeds:
    def __init__(self, hub: PriceHub, catalog: CatalogCache, *, database_url: str,
                 poll_seconds: float, simulate_interval: float | None) -> None:
        self.relay = PriceRelay(hub, catalog, database_url, poll_seconds)
        self.hub = hub
        self.catalog = catalog
        self.lock = writer_lock(database_url)
        self.simulate_interval = simulate_interval
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self.relay.run()))
        if self.simulate_interval is not None:
            self._tasks.append(asyncio.create_task(simulate(
                self.hub, self.catalog, self.lock, self.simulate_interval, random.Random())))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.lock.release()
