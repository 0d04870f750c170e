"""The catalog reads served from encoded bytes kept until the catalog changes: the same answer
as building the response afresh, and never stale after a write in this process."""

import asyncio
from datetime import datetime, timezone
from decimal import Decimal

import asyncpg
import pytest
from tortoise import connections

from crypto_service import convert
from crypto_service.db.models import Coin
from crypto_service.db.rows import encode, placeholders
from crypto_service.domain import catalog as catalog_module
from crypto_service.domain import coins, market
from crypto_service.domain.catalog import NOTIFY_CHANNEL, Catalog, CoinRecord
from crypto_service.domain.coingecko import load_snapshot, upsert_coins
from crypto_service.domain.money import format_decimal
from crypto_service.domain.paging import Page
from crypto_service.domain.prices.store import write_prices
from crypto_service.generated import crypto as pb
from crypto_service.generated.google import protobuf as pb_google
from tests.rpc.test_coins import three_coins  # noqa: F401  (a fixture)


async def fresh_catalog() -> Catalog:
    return Catalog([CoinRecord.from_model(c) for c in await Coin.all()])


async def test_cached_responses_are_the_bytes_the_uncached_path_builds(
        stub, three_coins):  # noqa: F811
    catalog = await fresh_catalog()
    trend = convert.to_trend(pb.TrendingType.TOP_GAINERS)
    sort, descending = convert.to_sort(pb.SortBy.PRICE, pb.SortOrder.DESC)
    cases = [
        (stub.get_coin, pb.GetCoinRequest(symbol="eth"),
         convert.to_coin_response(coins.get_coin(catalog, symbol="eth"))),
        (stub.list_coins, pb.ListCoinsRequest(page_size=2, sort_by=pb.SortBy.PRICE,
                                              sort_order=pb.SortOrder.DESC),
         convert.to_coin_page(coins.list_coins(catalog, page=0, page_size=2, active_only=False,
                                               tradeable_only=False, sort=sort,
                                               descending=descending))),
        (stub.search_coins, pb.SearchCoinsRequest(query="in"),
         convert.to_coin_page(coins.search_coins(catalog, "in", 0))),
        (stub.get_top_coins, pb.GetTopCoinsRequest(limit=3),
         convert.to_coin_page(coins.top_coins(catalog, 3))),
        (stub.get_trending_coins, pb.GetTrendingCoinsRequest(type=pb.TrendingType.TOP_GAINERS),
         convert.to_trending_response(trend, market.trending(catalog, trend, 0))),
    ]
    for call, request, expected in cases:
        first, second = await call(request), await call(request)  # a miss, then a hit
        assert bytes(first) == bytes(second) == expected.SerializeToString(), call

    first = await stub.get_market_stats(pb_google.Empty())
    second = await stub.get_market_stats(pb_google.Empty())
    assert bytes(first) == bytes(second)  # calculated_at included: computed once, kept
    expected = convert.to_market_stats_response(market.market_stats(catalog))
    expected.calculated_at.FromDatetime(first.calculated_at)
    assert bytes(first) == expected.SerializeToString()


# Values whose encoding depends on the conversion: exponents, zero, 38 digits, negatives, empty
# texts, false flags, rank 0, microseconds, the epoch.
ODD_COINS = [
    CoinRecord(id=1, symbol="A", name="Ä coin", slug="a", current_price_usd=Decimal("1E-18"),
               market_cap_usd=Decimal("1E+3"),
               volume_24h_usd=Decimal("12345678901234567890.123456789012345678"),
               price_change_24h_percent=Decimal("-5.500000000000000000"),
               price_change_7d_percent=Decimal("0E-18"), price_change_30d_percent=Decimal("0"),
               logo_url="", description="", website="", whitepaper_url="", rank=0,
               is_active=False, is_tradeable=False, is_price_up_24h=False,
               created_at=datetime(1970, 1, 1, tzinfo=timezone.utc),
               updated_at=datetime(2026, 11, 26, 4, 57, 0, 315085, tzinfo=timezone.utc)),
    CoinRecord(id=2**31 - 1, symbol="B" * 32, name="b", slug="b", current_price_usd=Decimal(1),
               market_cap_usd=Decimal("99999999999999999999.999999999999999999"),
               volume_24h_usd=Decimal(0), price_change_24h_percent=Decimal("100"),
               price_change_7d_percent=Decimal("-0.000001"),
               price_change_30d_percent=Decimal("1.5"), logo_url="https://x/y.png",
               description="d" * 300, website="w", whitepaper_url="p", rank=2**31 - 1,
               is_active=True, is_tradeable=True, is_price_up_24h=True,
               created_at=datetime(2030, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc),
               updated_at=datetime(2000, 2, 29, 23, 59, 59, 999999, tzinfo=timezone.utc)),
]


@pytest.mark.parametrize("response_type, build", [
    (pb.CoinResponse, lambda: convert.to_coin_response(ODD_COINS[0])),
    (pb.ListCoinsResponse, lambda: convert.to_coin_page(Page(ODD_COINS, 2, 1, 20))),
    (pb.TrendingCoinsResponse, lambda: convert.to_trending_response(
        convert.to_trend(pb.TrendingType.MOST_TRADED), ODD_COINS)),
])
def test_read_responses_are_encoded_as_betterproto2_encodes_them(response_type, build):
    """The reads are built through upb: betterproto2 (what clients of this package decode
    with) reads every field back, and writes the very same bytes again."""
    encoded = build().SerializeToString()
    decoded = response_type.parse(encoded)
    assert bytes(decoded) == encoded
    coins_sent = [decoded.coin] if response_type is pb.CoinResponse else decoded.coins
    for coin, record in zip(coins_sent, ODD_COINS):
        assert (coin.id, coin.rank, coin.created_at, coin.updated_at) == \
            (record.id, record.rank, record.created_at, record.updated_at)
        assert coin.current_price_usd == format_decimal(record.current_price_usd)
        assert "E" not in coin.market_cap_usd + coin.price_change_7d_percent


async def test_price_writes_reach_every_cached_read_before_they_return(
        stub, three_coins):  # noqa: F811
    top = await stub.get_top_coins(pb.GetTopCoinsRequest(limit=3))
    stats = await stub.get_market_stats(pb_google.Empty())
    assert top.coins[1].current_price_usd == "3300"

    await write_prices({"ETH": {"current_price_usd": Decimal("3412.75"),
                                "market_cap_usd": Decimal("5E11")}})

    top = await stub.get_top_coins(pb.GetTopCoinsRequest(limit=3))
    assert top.coins[1].current_price_usd == "3412.75"
    assert (await stub.get_coin(pb.GetCoinRequest(symbol="ETH"))).coin.market_cap_usd == \
        "500000000000"
    after = await stub.get_market_stats(pb_google.Empty())
    assert Decimal(after.total_market_cap_usd) - Decimal(stats.total_market_cap_usd) == \
        Decimal("1E11")


async def test_a_write_from_elsewhere_arrives_with_the_relays_refresh(
        app, stub, three_coins):  # noqa: F811
    """Another process's write sends no signal here: the relay's version check (on NOTIFY or
    poll) is what brings it in. Raw SQL stands in for that other process."""
    assert (await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))).coin.name == "Bitcoin"
    await connections.get("default").execute_query(
        "UPDATE coin SET name = 'Bitcoin Core', updated_at = updated_at + interval '1 hour' "
        "WHERE symbol = 'BTC'"
        if connections.get("default").capabilities.dialect == "postgres" else
        "UPDATE coin SET name = 'Bitcoin Core', updated_at = '2999-01-01 00:00:00+00:00' "
        "WHERE symbol = 'BTC'")
    assert (await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))).coin.name == "Bitcoin"

    await app.service.catalog.refresh()

    assert (await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))).coin.name == "Bitcoin Core"


async def test_seeding_notifies_every_relay_on_postgresql(db):
    """`crypto seed` run by another process must reach the replicas' snapshots on its NOTIFY,
    not on the relays' 30 s safety re-check."""
    if not db.database_url.startswith("postgres"):
        pytest.skip("NOTIFY is PostgreSQL's")
    listener = await asyncpg.connect(db.database_url)
    notified = asyncio.Event()
    await listener.add_listener(NOTIFY_CHANNEL, lambda *_: notified.set())
    try:
        await upsert_coins(load_snapshot(None).coins)
        await asyncio.wait_for(notified.wait(), 30)
    finally:
        await listener.close()


async def _write_elsewhere(symbol: str, name: str) -> None:
    """A coin write by another process: no signal, no patch here; its `updated_at` is its own
    clock's, earlier than any write this process makes after it."""
    connection = connections.get("default")
    marks = placeholders(connection, 3)
    await connection.execute_query(
        f"UPDATE coin SET name = {marks[0]}, updated_at = {marks[1]} WHERE symbol = {marks[2]}",
        [name, encode(Coin, "updated_at", datetime.now(timezone.utc)), symbol])


async def test_a_local_price_write_does_not_hide_a_write_from_elsewhere(
        app, stub, three_coins):  # noqa: F811
    """The snapshot after a price write is built from the written rows, not read back. If
    another process wrote since the snapshot was loaded, the table's version before the write
    is not the snapshot's: the price write still shows at once, and the other write arrives
    with the relay's next refresh, as the documented bound says (a snapshot that claimed the
    version after the write would keep the other write out until the next change)."""
    assert (await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))).coin.name == "Bitcoin"
    await _write_elsewhere("BTC", "Bitcoin Core")

    await write_prices({"ETH": {"current_price_usd": Decimal("3412.75")}})
    eth = (await stub.get_coin(pb.GetCoinRequest(symbol="ETH"))).coin
    assert eth.current_price_usd == "3412.75"

    await app.service.catalog.refresh()
    assert (await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))).coin.name == "Bitcoin Core"
    assert (await stub.get_coin(pb.GetCoinRequest(symbol="ETH"))).coin.current_price_usd == \
        "3412.75"


async def test_reads_keep_the_current_snapshot_while_the_relay_loads_the_next(
        app, stub, three_coins, monkeypatch):  # noqa: F811
    """The relay's reload of another process's write does not hold reads up: they are answered
    from the current snapshot until the new one is loaded, then from the new one."""
    await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))
    await _write_elsewhere("BTC", "Bitcoin Core")
    loading, release = asyncio.Event(), asyncio.Event()
    load_records = catalog_module._load_records

    async def held_load():
        loading.set()
        await release.wait()
        return await load_records()

    monkeypatch.setattr(catalog_module, "_load_records", held_load)
    refresh = asyncio.create_task(app.service.catalog.refresh())
    await asyncio.wait_for(loading.wait(), 10)
    during = await asyncio.wait_for(stub.get_coin(pb.GetCoinRequest(symbol="BTC")), 10)
    assert during.coin.name == "Bitcoin"
    release.set()
    await asyncio.wait_for(refresh, 10)
    assert (await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))).coin.name == "Bitcoin Core"


async def test_a_local_write_during_the_relays_load_wins_over_that_load(
        app, stub, three_coins, monkeypatch):  # noqa: F811
    """A load that began before this process's write may miss it: it is dropped, never
    installed over the write."""
    await stub.get_coin(pb.GetCoinRequest(symbol="ETH"))
    await _write_elsewhere("BTC", "Bitcoin Core")
    loading, release = asyncio.Event(), asyncio.Event()
    load_records = catalog_module._load_records

    async def held_load():
        records = await load_records()  # read before the write below
        loading.set()
        await release.wait()
        return records

    monkeypatch.setattr(catalog_module, "_load_records", held_load)
    refresh = asyncio.create_task(app.service.catalog.refresh())
    await asyncio.wait_for(loading.wait(), 10)
    await write_prices({"ETH": {"current_price_usd": Decimal("3412.75")}})
    release.set()
    await asyncio.wait_for(refresh, 10)
    monkeypatch.setattr(catalog_module, "_load_records", load_records)
    assert (await stub.get_coin(pb.GetCoinRequest(symbol="ETH"))).coin.current_price_usd == \
        "3412.75"
    assert (await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))).coin.name == "Bitcoin Core"
