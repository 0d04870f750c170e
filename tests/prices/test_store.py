"""The price write and the catalog reload use plain SQL with Tortoise's conversions
(`db/rows.py`): what they store and load must be exactly what the ORM stored and loaded."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from crypto_service.db.models import Coin
from crypto_service.domain import catalog
from crypto_service.domain.catalog import CatalogCache, CoinRecord, _load_records
from crypto_service.domain.prices.feeds import simulate_step
from crypto_service.domain.prices.hub import PriceHub
from crypto_service.domain.prices.relay import PriceRelay
from crypto_service.domain.prices.store import PRICE_FIELDS, write_prices
from tests.conftest import make_coin

# Values whose stored form depends on the conversion: exponents, zero, 38 digits, negatives.
NEW_FIELDS: dict[str, Any] = {
    "current_price_usd": Decimal("0.00002134"),
    "market_cap_usd": Decimal("1E+3"),
    "volume_24h_usd": Decimal("12345678901234567890.123456789012345678"),
    "price_change_24h_percent": Decimal("-5.5"),
    "price_change_7d_percent": Decimal("0"),
    "price_change_30d_percent": Decimal("0.000000000000000001"),
    "rank": 7,
    "is_price_up_24h": True,
}
# A second coin changes one field only: the batch writes the union of changed fields.
ONE_FIELD = {"current_price_usd": Decimal("2.5")}


async def _write_with_bulk_update(rows: dict[str, dict[str, Any]]) -> None:
    """What `write_prices` did before it sent plain SQL: models and `Coin.bulk_update`."""
    async with in_transaction() as connection:
        coins = {c.symbol: c for c in await Coin.filter(symbol__in=list(rows))}
        changed_coins, changed_fields = [], {"updated_at"}
        for symbol, fields in rows.items():
            coin = coins[symbol]
            changed = {k: v for k, v in fields.items() if getattr(coin, k) != v}
            coin.update_from_dict({**changed, "updated_at": datetime.now(timezone.utc)})
            changed_coins.append(coin)
            changed_fields.update(changed)
        await Coin.bulk_update(changed_coins, fields=sorted(changed_fields), using_db=connection)


async def _stored(symbol: str) -> dict[str, Any]:
    """The columns as the driver returns them (text on SQLite, NUMERIC on PostgreSQL)."""
    columns = ", ".join(f'"{name}"' for name in (*PRICE_FIELDS, "updated_at"))
    _, rows = await Coin._meta.db.execute_query(
        f"SELECT {columns} FROM coin WHERE symbol = {_mark()}", [symbol])
    return dict(zip((*PRICE_FIELDS, "updated_at"), rows[0]))


def _mark() -> str:
    return "?" if Coin._meta.db.capabilities.dialect == "sqlite" else "$1"


async def test_write_prices_stores_exactly_what_bulk_update_stored(db):
    for prefix in ("A", "B"):
        await make_coin(f"{prefix}ONE")
        await make_coin(f"{prefix}TWO", current_price_usd=Decimal("3"))

    await _write_with_bulk_update({"AONE": NEW_FIELDS, "ATWO": ONE_FIELD})
    result = await write_prices({"BONE": NEW_FIELDS, "BTWO": ONE_FIELD, "BNONE": ONE_FIELD})

    assert [q.symbol for q in result.updated] == ["BONE", "BTWO"]
    assert (result.unchanged, result.unknown) == (0, ["BNONE"])
    for old, new in (("AONE", "BONE"), ("ATWO", "BTWO")):
        before, after = await _stored(old), await _stored(new)
        stamp_before, stamp_after = before.pop("updated_at"), after.pop("updated_at")
        assert [repr(v) for v in after.values()] == [repr(v) for v in before.values()]
        assert type(stamp_after) is type(stamp_before)
        if isinstance(stamp_after, str):  # SQLite's text: the same form, UTC offset included
            assert stamp_after.endswith("+00:00") and stamp_before.endswith("+00:00")
            assert len(stamp_after) == len(stamp_before)


async def test_the_stored_timestamp_is_the_published_quotes(db):
    await make_coin("BTC")
    [quote] = (await write_prices({"BTC": ONE_FIELD})).updated
    [coin] = [c for c in await _load_records() if c.symbol == "BTC"]
    assert coin.updated_at == quote.updated_at
    assert coin.current_price_usd == quote.price_usd and coin.current_price_usd == Decimal("2.5")


async def test_an_unchanged_write_changes_nothing(db):
    await make_coin("BTC", current_price_usd=Decimal("2.5"))
    before = await _stored("BTC")
    result = await write_prices({"BTC": ONE_FIELD})
    assert (result.updated, result.unchanged, result.unknown) == ([], 1, [])
    assert await _stored("BTC") == before


async def test_the_catalog_loads_exactly_what_the_models_hold(db):
    await make_coin("AONE")
    await make_coin("ATWO", is_active=False, description="x" * 300, rank=3)
    await write_prices({"AONE": NEW_FIELDS})
    loaded = await _load_records()
    expected = [CoinRecord.from_model(c) for c in await Coin.all().order_by("id")]
    # repr, not ==: Decimal exponents and time zones must match too, not just the values.
    assert [repr(r) for r in sorted(loaded, key=lambda r: r.id)] == [repr(r) for r in expected]


async def test_the_snapshot_after_a_write_is_a_fresh_load(db):
    await make_coin("AONE")
    await make_coin("ATWO")
    cache = CatalogCache()
    await cache.current()
    await write_prices({"AONE": NEW_FIELDS, "ATWO": ONE_FIELD})
    after_write = await cache.current()
    fresh = await CatalogCache().current()
    assert [repr(c) for c in after_write.coins] == [repr(c) for c in fresh.coins]
    assert after_write.by_symbol["AONE"].current_price_usd == NEW_FIELDS["current_price_usd"]


async def test_the_writer_neither_reloads_nor_republishes_its_own_write(db, monkeypatch):
    await make_coin("AONE")
    hub, cache = PriceHub(), CatalogCache()
    relay = PriceRelay(hub, cache, listen=None, poll_seconds=1)
    await relay.refresh()
    await simulate_step(hub, cache, 1, random.Random(1))  # writes and publishes here

    loads, taken = [], []
    monkeypatch.setattr(catalog, "_load_records", counting(catalog._load_records, loads))
    publish = hub.publish
    monkeypatch.setattr(hub, "publish", lambda quotes: taken.extend(publish(quotes)))
    await cache.current()  # the snapshot was built from the written rows: no reload
    await relay.refresh()  # and it stands for the table's version after the write
    # The stored timestamp is the published one, so the relay's quotes are not newer.
    assert taken == []
    await simulate_step(hub, cache, 1, random.Random(2))  # so the next write builds on it
    taken.clear()  # what the step published itself
    await relay.refresh()
    assert loads == [] and taken == []
    assert [repr(c) for c in (await cache.current()).coins] == \
        [repr(c) for c in (await CatalogCache().current()).coins]


def counting(load, calls: list):
    async def wrapped():
        calls.append(1)
        return await load()
    return wrapped
