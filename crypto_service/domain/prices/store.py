"""Writing prices to the coin table, all of a batch or nothing, and announcing them.

Every price source (simulator, import, sync) ends here. A write bumps the rows' `updated_at`,
which is what `CatalogCache` and the SQLite relay notice; on PostgreSQL the same transaction
also sends a NOTIFY, delivered to listeners only if it commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tortoise.transactions import in_transaction

from ...db.models import Coin
from ..catalog import announce_in, coins_changed
from ..coingecko import CoinData
from .hub import Quote

# What a price update may change; names, slugs and texts belong to `crypto seed`.
PRICE_FIELDS = ("current_price_usd", "market_cap_usd", "volume_24h_usd",
                "price_change_24h_percent", "price_change_7d_percent",
                "price_change_30d_percent", "rank", "is_price_up_24h")

PriceFields = dict[str, Any]


@dataclass(slots=True)
class WriteResult:
    updated: list[Quote] = field(default_factory=list)
    unchanged: int = 0
    unknown: list[str] = field(default_factory=list)


def price_fields(data: CoinData) -> PriceFields:
    return {name: getattr(data, name) for name in PRICE_FIELDS}


async def write_prices(rows: dict[str, PriceFields]) -> WriteResult:
    """Updates the given fields of known coins by symbol in one transaction. Symbols the
    database does not know are reported back, not created."""
    result = WriteResult()
    now = datetime.now(timezone.utc)
    async with in_transaction() as connection:
        coins = {c.symbol: c for c in
                 await Coin.filter(symbol__in=list(rows)).select_for_update()}
        changed_coins, changed_fields = [], {"updated_at"}
        for symbol, fields in rows.items():
            coin = coins.get(symbol)
            if coin is None:
                result.unknown.append(symbol)
                continue
            changed = {k: v for k, v in fields.items() if getattr(coin, k) != v}
            if not changed:
                result.unchanged += 1
                continue
            coin.update_from_dict({**changed, "updated_at": now})
            changed_coins.append(coin)
            changed_fields.update(changed)
            result.updated.append(Quote(symbol, coin.current_price_usd,
                                        coin.price_change_24h_percent, now))
        if changed_coins:
            # One statement: the transaction (and SQLite's single connection, which every
            # read shares) is held for one round trip, not one per coin.
            await Coin.bulk_update(changed_coins, fields=sorted(changed_fields),
                                   using_db=connection)
        if result.updated:
            await announce_in(connection)
    if result.updated:
        coins_changed()
    return result
