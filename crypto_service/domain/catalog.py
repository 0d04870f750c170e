"""The coin catalog: an immutable in-memory snapshot of every coin, kept current by events.

Coins change only when prices move, and exact `Decimal` sorting is not something SQLite can do
on its text-stored decimals, so reads sort, filter and page a snapshot in Python. Reads never
touch the database while the snapshot is valid. It changes:
- in this process, by every coin write. A price write (`store.write_prices`) hands the rows it
  has just committed to `prices_written`, which replaces the snapshot with one built from them
  at once: no read-back, and no read ever waits for a reload after the simulator's step. Any
  other write invalidates: Tortoise's `post_save`/`post_delete` signals on `Coin` (a `.save()`
  or `.create()` anywhere) and `coins_changed()` called by the write paths after their
  transaction commits (a signal sent inside a transaction comes before the commit); the next
  read reloads;
- from other processes, by the price relay (`refresh`): on a PostgreSQL NOTIFY or each SQLite
  poll it compares the table's version (row count and latest `updated_at`) with the one the
  snapshot was loaded at, and loads the new snapshot while reads keep the current one.
A reload (`load_catalog`) is one plain select converted in batches (`db/rows.py`), so it never
blocks the event loop long.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

from tortoise.functions import Count, Max
from tortoise.signals import post_delete, post_save

from ..db.models import Coin
from ..db.rows import select


@dataclass(frozen=True, slots=True)
class CoinRecord:
    id: int
    symbol: str
    name: str
    slug: str
    current_price_usd: Decimal
    market_cap_usd: Decimal
    volume_24h_usd: Decimal
    price_change_24h_percent: Decimal
    price_change_7d_percent: Decimal
    price_change_30d_percent: Decimal
    logo_url: str
    description: str
    website: str
    whitepaper_url: str
    rank: int
    is_active: bool
    is_tradeable: bool
    is_price_up_24h: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, coin: Coin) -> CoinRecord:
        return cls(**{name: getattr(coin, name) for name in cls.__slots__})


# Fields by coin id, as a committed write left them.
Changes = Mapping[int, Mapping[str, Any]]


class Catalog:
    """All coins at one moment, with the lookups the RPCs need."""

    def __init__(self, coins: list[CoinRecord]) -> None:
        self.coins = sorted(coins, key=lambda c: c.id)
        self.by_id = {c.id: c for c in self.coins}
        self.by_symbol = {c.symbol.upper(): c for c in self.coins}
        self.by_slug = {c.slug.lower(): c for c in self.coins}
        self.active = [c for c in self.coins if c.is_active]

    def with_changes(self, changes: Changes) -> Catalog:
        """This catalog with the given fields of the given coins (by id) replaced; every other
        record is kept as it is (the same object)."""
        return Catalog([replace(c, **changes[c.id]) if c.id in changes else c
                        for c in self.coins])


Version = tuple[int, datetime | None]


class CatalogCache:
    """Hands out the current `Catalog` from memory: replaced by this process's price writes,
    loaded by the first read after an invalidation, reloaded by `refresh` when the table moved."""

    def __init__(self, on_reload: Callable[[float], None] | None = None) -> None:
        """`on_reload` is told how many seconds each reload from the database took."""
        self.on_reload = on_reload
        self._catalog: Catalog | None = None
        self._version: Version | None = None
        self._generation = 0  # bumped by every invalidation and price write of this process
        self._lock = asyncio.Lock()
        _caches.add(self)

    def invalidate(self) -> None:
        self._catalog = None
        self._generation += 1

    async def current(self) -> Catalog:
        catalog = self._catalog
        if catalog is not None:
            return catalog
        async with self._lock:
            if self._catalog is not None:
                return self._catalog
            generation = self._generation
            version, loaded = await self._load()
            # An invalidation during the load may describe a write this load missed: serve the
            # load to this read (it began before that write was acknowledged), keep nothing.
            if generation == self._generation:
                self._catalog, self._version = loaded, version
            return loaded

    async def refresh(self) -> Catalog:
        """The current catalog after checking the table's version: how writes made by other
        processes arrive (the relay calls this on NOTIFY or poll). Reads keep getting the
        snapshot they have while the new one loads, instead of queueing behind the load."""
        if self._catalog is None or await table_version() == self._version:
            return await self.current()
        generation = self._generation
        version, loaded = await self._load()
        if generation == self._generation:  # no write of this process overtook the load
            self._catalog, self._version = loaded, version
        return await self.current()

    async def _load(self) -> tuple[Version, Catalog]:
        started = time.perf_counter()
        loaded = await load_catalog()
        if self.on_reload is not None:
            self.on_reload(time.perf_counter() - started)
        return loaded

    def apply(self, changes: Changes, before: Version, after: Version) -> None:
        """A price write of this process has committed `changes`; `before` and `after` are
        the table's versions around it, read in its transaction. When the snapshot is the
        table as it was before the write, the new snapshot is built from the changes and
        stands for `after`; otherwise (another process wrote since the snapshot was loaded,
        the relay has not brought it in yet) the next read reloads."""
        catalog = self._catalog
        self._generation += 1
        if (catalog is None or self._version != before
                or not changes.keys() <= catalog.by_id.keys()):
            self._catalog = None
            return
        self._catalog, self._version = catalog.with_changes(changes), after


NOTIFY_CHANNEL = "crypto_prices"


async def announce_in(connection: Any) -> None:
    """Called inside a transaction that wrote coins: on PostgreSQL a NOTIFY, which the relays
    of every process receive only if (and once) the transaction commits."""
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query("SELECT pg_notify($1, '')", [NOTIFY_CHANNEL])


# Every cache of this process, so a write anywhere in it invalidates them all.
_caches: weakref.WeakSet[CatalogCache] = weakref.WeakSet()


def coins_changed() -> None:
    """Invalidates every catalog of this process: write paths call it after they commit."""
    for cache in list(_caches):
        cache.invalidate()


def prices_written(changes: Changes, before: Version, after: Version) -> None:
    """Every catalog of this process takes a committed price write (`CatalogCache.apply`)."""
    for cache in list(_caches):
        cache.apply(changes, before, after)


@post_save(Coin)
async def _coin_saved(*_args: object) -> None:
    coins_changed()


@post_delete(Coin)
async def _coin_deleted(*_args: object) -> None:
    coins_changed()


_RECORD_FIELDS = CoinRecord.__slots__


async def load_catalog() -> tuple[Version, Catalog]:
    """The whole catalog from the database and the table's version it stands for: every
    reload of the snapshot goes through here."""
    # The version first: a write landing between the two queries leaves a version older than
    # the data, so the next `refresh` reloads (never the reverse).
    version = await table_version()
    return version, Catalog(await _load_records())


async def _load_records() -> list[CoinRecord]:
    # Every coin as `CoinRecord.from_model(coin)` would make it from `Coin.all()`, without the
    # models: one plain select converted with Tortoise's rules (`db/rows.py`). This reload runs
    # once a second while prices move; through the models it held the event loop 10-15 ms, in
    # batches it holds it about a millisecond at a time.
    return [CoinRecord(*row) for row in await select(Coin._meta.db, Coin, _RECORD_FIELDS)]


async def table_version(connection: Any = None) -> Version:
    """Row count and latest `updated_at` of the coin table (in `connection`'s transaction if
    given)."""
    row = await Coin.all().using_db(connection).annotate(
        n=Count("id"), latest=Max("updated_at")).values("n", "latest")
    return row[0]["n"], row[0]["latest"]
