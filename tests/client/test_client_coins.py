"""Coin and market methods of the async client against the real service over loopback."""

from decimal import Decimal

import pytest

from crypto_service.client import AsyncCryptoClient, Coin, CoinList, InvalidArgument, NotFound
from crypto_service.generated import crypto as pb
from tests.conftest import make_coin


@pytest.fixture
async def client(app_address):
    await make_coin("BTC", name="Bitcoin", slug="bitcoin", rank=1,
                    current_price_usd=Decimal("94000.5"), market_cap_usd=Decimal("1.8E12"),
                    price_change_24h_percent=Decimal("1.5"))
    await make_coin("ETH", name="Ethereum", slug="ethereum", rank=2,
                    current_price_usd=Decimal("3300"), market_cap_usd=Decimal("4E11"),
                    volume_24h_usd=Decimal("9E10"), price_change_24h_percent=Decimal("-2.25"))
    await make_coin("SHIB", name="Shiba Inu", slug="shiba-inu", rank=15,
                    current_price_usd=Decimal("0.00000001"), market_cap_usd=Decimal("1E10"))
    async with AsyncCryptoClient(app_address) as client:
        yield client


async def test_get_coin_by_symbol_slug_and_id_returns_the_coin(client):
    btc = await client.get_coin(symbol="BTC")
    assert isinstance(btc, Coin)
    assert (btc.symbol, btc.name, btc.current_price_usd) == ("BTC", "Bitcoin", Decimal("94000.5"))
    assert btc.wire.message == "found BTC"  # the whole response is kept
    assert (await client.get_coin(slug="ethereum")).symbol == "ETH"
    assert (await client.get_coin(coin_id=btc.id)).symbol == "BTC"


async def test_unknown_and_missing_coin_raise_mapped_errors(client):
    with pytest.raises(NotFound) as missing:
        await client.get_coin("NOPE")
    assert "NOPE" in missing.value.message
    with pytest.raises(InvalidArgument):
        await client.get_coin()


async def test_list_coins_pages_sorts_and_reports_totals(client):
    page = await client.list_coins(page=1, page_size=2, sort_by="price", descending=True)
    assert [c.symbol for c in page.coins] == ["BTC", "ETH"]
    assert (page.total_count, page.total_pages, page.page_size) == (3, 2, 2)
    last = await client.list_coins(page=2, page_size=2, sort_by=pb.SortBy.PRICE,
                                   descending=True)
    assert [c.symbol for c in last.coins] == ["SHIB"]


async def test_unknown_sort_name_is_refused_before_sending(client):
    with pytest.raises(InvalidArgument, match="market_cap"):
        await client.list_coins(sort_by="loudness")
    with pytest.raises(InvalidArgument, match="one of gainers, losers, traded, top_gainers"):
        await client.get_trending_coins("hot")


async def test_search_and_top_return_coin_lists(client):
    found = await client.search_coins("eth")
    assert isinstance(found, CoinList) and [c.symbol for c in found] == ["ETH"]
    assert found[0].current_price_usd == Decimal("3300") and len(found) == 1
    assert [c.symbol for c in await client.list_top_coins(2)] == ["BTC", "ETH"]


async def test_market_stats_and_trending(client):
    stats = await client.get_market_stats()
    assert stats.active_coins_count == 3
    assert stats.total_market_cap_usd == Decimal("1.8E12") + Decimal("4E11") + Decimal("1E10")
    assert [c.symbol for c in await client.get_trending_coins("gainers", 1)] == ["BTC"]
    assert [c.symbol for c in await client.get_trending_coins(pb.TrendingType.TOP_LOSERS, 1)] \
        == ["ETH"]
    assert [c.symbol for c in await client.get_trending_coins("most_traded", 1)] == ["ETH"]
