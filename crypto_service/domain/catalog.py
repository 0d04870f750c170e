"""The coin catalog: an immutable in-memory snapshot of every coin, kept current cheaply.

Coins change only when prices move, and exact `Decimal` sorting is not something SQLite can do
on its text-stored decimals, so reads sort, filter and page a snapshot in Python. Each read
first asks the database for the table's version (row count and latest `updated_at`, one
indexed query) and reloads the snapshot only when it changed, so a write acknowledged by any
process is visible to the next read in every process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tortoise.functions import Count, Max

from ..db.models import Coin


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


class Catalog:
    """All coins at one moment, with the lookups the RPCs need."""

    def __init__(self, coins: list[CoinRecord]) -> None:
        self.coins = sorted(coins, key=lambda c: c.id)
        self.by_id = {c.id: c for c in self.coins}
        self.by_symbol = {c.symbol.upper(): c for c in self.coins}
        self.by_slug = {c.slug.lower(): c for c in self.coins}
        self.active = [c for c in self.coins if c.is_active]


Version = tuple[int, datetime | None]


class CatalogCache:
    """Hands out the current `Catalog`, reloading it only when the coin table changed."""

    def __init__(self) -> None:
        self._catalog = Catalog([])
        self._version: Version | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> Catalog:
        version = await _table_version()
        if version == self._version:
            return self._catalog
        async with self._lock:
            if version != self._version:
                coins = [CoinRecord.from_model(c) for c in await Coin.all()]
                self._catalog, self._version = Catalog(coins), version
        return self._catalog


async def _table_version() -> Version:
    row = await Coin.all().annotate(n=Count("id"), latest=Max("updated_at")).values("n", "latest")
    return row[0]["n"], row[0]["latest"]
