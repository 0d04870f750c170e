"""Writing prices to the coin table, all of a batch or nothing, and announcing them.

Every price source (simulator, import, sync) ends here. A write bumps the rows' `updated_at`,
which is what `CatalogCache` and the SQLite relay notice; on PostgreSQL the same transaction
also sends a NOTIFY, delivered to listeners only if it commits.

The simulator runs it every second on the serving process's event loop, so it sends plain SQL
(one light locking read, one prepared update run per coin) with Tortoise's own value
conversions (`db/rows.py`) instead of instantiating models and building `bulk_update`'s CASE
statement, which held the loop for a whole write at a time. Conversions and statements go in
batches of coins, so no piece holds the loop for long. The stored `updated_at` is the
published quotes' timestamp.

After the commit the process's catalog snapshots are built from the rows just written
(`catalog.prices_written`), not read back: with the table's version read in the transaction
before and after the update, a snapshot that was the table before the write is exactly the
table after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tortoise.transactions import in_transaction

from ...db import writes
from ...db.models import Coin
from ...db.rows import (
    ROWS_PER_BATCH,
    column,
    convert_rows,
    encode,
    placeholders,
    select,
    table,
)
from ..catalog import (Changes, Version, announce_in, coins_changed, prices_written,
                       table_version)
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
    database does not know are reported back, not created. The transaction runs to completion
    even when the caller is cancelled (the simulator stopped by a drain), so it never leaves
    a pooled connection mid-transaction (db/writes.py)."""
    return await writes.run_to_completion(_write_prices(rows))


async def _write_prices(rows: dict[str, PriceFields]) -> WriteResult:
    result = WriteResult()
    written: Written | None = None
    try:
        async with in_transaction() as connection:
            written = await _write(connection, rows, result)
    except BaseException:
        if written is not None:  # the commit failed or was cancelled, and may have happened
            coins_changed()
        raise
    if written is not None:
        prices_written(*written)
    return result


# The fields written by coin id, and the table's version before and after the write.
Written = tuple[Changes, Version, Version]


async def _write(connection: Any, rows: dict[str, PriceFields],
                 result: WriteResult) -> Written | None:
    now = datetime.now(timezone.utc)
    stamp = _python_value("updated_at", now)
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
        coin.update({k: _python_value(k, v) for k, v in changed.items()}, updated_at=stamp)
        updates.append(coin)
        changed_fields.update(changed)
        result.updated.append(Quote(symbol, coin["current_price_usd"],
                                    coin["price_change_24h_percent"], now))
    if not updates:
        return None
    before = await table_version(connection)
    await _update(connection, updates, sorted(changed_fields))
    after = await table_version(connection)
    await announce_in(connection)
    return {coin["id"]: {name: coin[name] for name in _WRITTEN} for coin in updates}, before, after


_HELD = ("id", "symbol", *PRICE_FIELDS)
_WRITTEN = (*PRICE_FIELDS, "updated_at")


async def _lock_current(connection: Any, symbols: list[str]) -> dict[str, HeldCoin]:
    """The price fields of the named coins, locked until the transaction ends (`FOR UPDATE` on
    PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the database's write lock)."""
    if not symbols:
        return {}
    lock = " FOR UPDATE" if connection.capabilities.dialect == "postgres" else ""
    marks = ", ".join(placeholders(connection, len(symbols)))
    rows = await select(connection, Coin, _HELD,
                        f" WHERE {column(Coin, 'symbol')} IN ({marks}){lock}", symbols)
    coins = [dict(zip(_HELD, row)) for row in rows]
    return {coin["symbol"]: coin for coin in coins}


async def _update(connection: Any, coins: list[HeldCoin], fields: list[str]) -> None:
    # One prepared statement run for every coin, a batch of coins per round trip: the
    # transaction (and SQLite's single connection, which every read shares) is held for a few
    # round trips, not one per coin, and since asyncpg encodes a whole `executemany` on the
    # event loop, it is held for one batch's encoding, not the whole write's. Every coin sets
    # all of the write's changed fields, its unchanged ones to the value it holds, as
    # `bulk_update` did.
    marks = placeholders(connection, len(fields) + 1)
    sets = ", ".join(f"{column(Coin, name)} = {mark}" for name, mark in zip(fields, marks))
    sql = f"UPDATE {table(Coin)} SET {sets} WHERE {column(Coin, 'id')} = {marks[-1]}"
    values = await convert_rows(coins, lambda coin: [
        *(encode(Coin, name, coin[name]) for name in fields), coin["id"]])
    for start in range(0, len(values), ROWS_PER_BATCH):
        await connection.execute_many(sql, values[start:start + ROWS_PER_BATCH])


def _python_value(name: str, value: Any) -> Any:
    return Coin._meta.fields_map[name].to_python_value(value)
