"""The price machinery of one serving process: the relay always, the simulator when asked.
Started with the server and stopped in its drain; each runs supervised (`supervisor.py`), so a
fault is logged and the task starts again after a backoff instead of ending silently."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from functools import partial
from typing import NoReturn

from ...db.connect import connect_dedicated, is_sqlite
from ...settings import Settings
from ..catalog import CatalogCache
from .hub import PriceHub
from .relay import RELAY, PriceRelay
from .simulator import step
from .store import write_prices
from .supervisor import Backoff, supervise
from .writer_lock import WriterLock, writer_lock

log = logging.getLogger("crypto_service.prices")


async def simulate_step(hub: PriceHub, catalog: CatalogCache, seconds: float,
                        rng: random.Random) -> None:
    """One random-walk step for every active coin, written in one transaction and published
    here at once (other processes learn of it through their relay)."""
    coins = (await catalog.current()).active
    written = await write_prices(step(coins, seconds, rng))
    hub.publish(written.updated)


class Simulator:
    """Every interval, a step if this process is the writer (or can become it). Whether it
    leads outlives a restart, so only a change of leader is logged."""

    def __init__(self, hub: PriceHub, catalog: CatalogCache, lock: WriterLock,
                 interval_seconds: float) -> None:
        self.hub = hub
        self.catalog = catalog
        self.lock = lock
        self.interval_seconds = interval_seconds
        self.rng = random.Random()
        self.leading = False

    async def run(self) -> NoReturn:
        while True:
            leading = await self.lock.acquire()
            if leading != self.leading:
                log.info("this process runs the market simulator" if leading
                         else "another process runs the market simulator now")
                self.leading = leading
            if leading:
                await simulate_step(self.hub, self.catalog, self.interval_seconds, self.rng)
            await asyncio.sleep(self.interval_seconds)


class PriceFeeds:
    def __init__(self, hub: PriceHub, catalog: CatalogCache, settings: Settings, *,
                 reachable: Callable[[bool], None] = lambda _live: None,
                 backoff: Backoff = Backoff()) -> None:
        """`reachable` hears whether the relay is live (see `PriceRelay`)."""
        listen = None if is_sqlite(settings.database_url) \
            else partial(connect_dedicated, settings, RELAY)
        self.relay = PriceRelay(hub, catalog, listen=listen,
                                poll_seconds=settings.price_poll_seconds, reachable=reachable)
        self.lock = writer_lock(settings)
        self.simulator = Simulator(hub, catalog, self.lock, settings.simulate_interval_seconds) \
            if settings.simulate else None
        self.backoff = backoff
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._start(RELAY, self.relay.run)
        if self.simulator is not None:
            self._start("market simulator", self.simulator.run)

    def _start(self, name: str, run: Callable) -> None:
        self._tasks.append(asyncio.create_task(supervise(name, run, backoff=self.backoff),
                                               name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        for task in self._tasks:
            # Supervised tasks end only by cancellation: anything else is a bug to see.
            if not task.cancelled() and task.exception() is not None:
                log.error("%s ended with an error", task.get_name(),
                          exc_info=task.exception())
        self._tasks.clear()
        await self.lock.release()
