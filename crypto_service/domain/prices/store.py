"""Writing prices to the coin table, all of a batch or nothing, and announcing them.

Every price source (simulator, import, sync) ends here. A write bumps the rows' `updated_at`,
which is what `CatalogCache` and the SQLite relay notice; on PostgreSQL the same transaction
also sends a NOTIFY, delivered to listeners only if it commits.

It runs once a second on the serving process's event loop, so it sends plain SQL (one light
locking read, one prepared update run per coin) with Tortoise's own value conversions
(`db/rows.py`) instead of instantiating models and building `bulk_update`'s CASE statement,
which blocked the loop for 30-60 ms a step. The stored `updated_at` is the quotes' timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tortoise.transactions import in_transaction

from ...db.models import Coin
from ...db.rows import column, decoders, encode, placeholders
from ..catalog import announce_in, coins_changed
from ..coingecko import CoinData
from .hub import Quote

# What a price update may change; names, slugs and texts belong to `crypto seed`.
PRICE_FIELDS = ("current_price_usd", "market_cap_usd", "volume_24h_usd",
                "price_change_24h_percent", "price_change_7d_percent",
                "price_change_30d_percent", "rank", "is_price_up_24h")

PriceFields = dict[str, Any]
# A coin's id, symbol and price fields (and `updated_at` once changed), as its model would
# hold them.
HeldCoin = dict[str, Any]


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
        held = await _lock_current(connection, list(rows))
        updates: list[HeldCoin] = []
        changed_fields = {"updated_at"}
        for symbol, fields in rows.items():
            coin = held.get(symbol)
            if coin is None:
                result.unknown.append(symbol)
                continue
            changed = {k: v for k, v in fields.items() if coin[k] != v}
            if not changed:
                result.unchanged += 1
                continue
            # The values as the model would hold them after `update_from_dict`.
            coin.update({k: _python_value(k, v) for k, v in changed.items()}, updated_at=now)
            updates.append(coin)
            changed_fields.update(changed)
            result.updated.append(Quote(symbol, coin["current_price_usd"],
                                        coin["price_change_24h_percent"], now))
        if updates:
            await _update(connection, updates, sorted(changed_fields))
        if result.updated:
            await announce_in(connection)
    if result.updated:
        coins_changed()
    return result


_HELD = ("id", "symbol", *PRICE_FIELDS)


async def _lock_current(connection: Any, symbols: list[str]) -> dict[str, HeldCoin]:
    """The price fields of the named coins, locked until the transaction ends (`FOR UPDATE` on
    PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the database's write lock)."""
    if not symbols:
        return {}
    lock = " FOR UPDATE" if connection.capabilities.dialect == "postgres" else ""
    sql = (f"SELECT {', '.join(column(Coin, name) for name in _HELD)} FROM coin "
           f"WHERE {column(Coin, 'symbol')} IN ({', '.join(placeholders(connection, len(symbols)))})"
           f"{lock}")
    _, found = await connection.execute_query(sql, symbols)
    decode = decoders(Coin, _HELD)
    coins = [{name: convert(value) for name, convert, value in zip(_HELD, decode, row)}
             for row in found]
    return {coin["symbol"]: coin for coin in coins}


async def _update(connection: Any, coins: list[HeldCoin], fields: list[str]) -> None:
    # One prepared statement run once per coin: the transaction (and SQLite's single
    # connection, which every read shares) is held for one round trip, not one per coin. Every
    # coin sets all the batch's changed fields, its unchanged ones to the value it holds, as
    # `bulk_update` did.
    marks = placeholders(connection, len(fields) + 1)
    sets = ", ".join(f"{column(Coin, name)} = {mark}" for name, mark in zip(fields, marks))
    sql = f"UPDATE coin SET {sets} WHERE {column(Coin, 'id')} = {marks[-1]}"
    await connection.execute_many(sql, [[encode(Coin, name, coin[name]) for name in fields]
                                        + [coin["id"]] for coin in coins])


def _python_value(name: str, value: Any) -> Any:
    return Coin._meta.fields_map[name].to_python_value(value)
