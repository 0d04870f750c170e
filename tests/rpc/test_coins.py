"""Coin RPCs through a real client: GetCoin, ListCoins, SearchCoins, GetTopCoins."""

from decimal import Decimal

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from crypto_service.generated import crypto as pb
from tests.conftest import make_coin


async def expect_error(call, status: Status) -> str:
    with pytest.raises(GRPCError) as info:
        await call
    assert info.value.status == status, info.value.message
    return info.value.message or ""


@pytest.fixture
async def three_coins():
    btc = await make_coin("BTC", name="Bitcoin", slug="bitcoin", rank=1,
                          current_price_usd=Decimal("94000.5"), market_cap_usd=Decimal("1.8E12"),
                          volume_24h_usd=Decimal("3E10"), price_change_24h_percent=Decimal("1.5"))
    eth = await make_coin("ETH", name="Ethereum", slug="ethereum", rank=2,
                          current_price_usd=Decimal("3300"), market_cap_usd=Decimal("4E11"),
                          volume_24h_usd=Decimal("2E10"), price_change_24h_percent=Decimal("-2.25"))
    shib = await make_coin("SHIB", name="Shiba Inu", slug="shiba-inu", rank=15,
                           current_price_usd=Decimal("0.00000001"), market_cap_usd=Decimal("1E10"),
                           volume_24h_usd=Decimal("5E8"), price_change_24h_percent=Decimal("0"))
    return btc, eth, shib


async def test_get_coin_by_symbol_slug_and_id_case_insensitively(stub, three_coins):
    btc = three_coins[0]
    for request in (pb.GetCoinRequest(symbol="btc"), pb.GetCoinRequest(slug="BITCOIN"),
                    pb.GetCoinRequest(id=btc.id)):
        response = await stub.get_coin(request)
        assert response.success and response.message
        assert response.coin.symbol == "BTC"
        assert response.coin.name == "Bitcoin"
        assert response.coin.current_price_usd == "94000.5"
        assert response.coin.market_cap_usd == "1800000000000"
        assert response.coin.is_price_up_24h is True
        assert response.coin.created_at is not None


async def test_get_coin_formats_tiny_prices_in_plain_notation(stub, three_coins):
    response = await stub.get_coin(pb.GetCoinRequest(symbol="SHIB"))
    assert response.coin.current_price_usd == "0.00000001"
    assert response.coin.price_change_24h_percent == "0"
    assert response.coin.is_price_up_24h is False


async def test_get_coin_without_identifier_is_invalid_argument(stub, three_coins):
    message = await expect_error(stub.get_coin(pb.GetCoinRequest()), Status.INVALID_ARGUMENT)
    assert "id, symbol or slug" in message
    await expect_error(stub.get_coin(pb.GetCoinRequest(symbol="  ")), Status.INVALID_ARGUMENT)


async def test_get_unknown_coin_is_not_found_naming_it(stub, three_coins):
    message = await expect_error(stub.get_coin(pb.GetCoinRequest(symbol="NOPE")), Status.NOT_FOUND)
    assert "NOPE" in message
    message = await expect_error(stub.get_coin(pb.GetCoinRequest(id=999)), Status.NOT_FOUND)
    assert "999" in message


async def test_list_coins_defaults_to_rank_ascending_with_totals(stub, three_coins):
    response = await stub.list_coins(pb.ListCoinsRequest())
    assert [c.symbol for c in response.coins] == ["BTC", "ETH", "SHIB"]
    assert (response.total_count, response.page, response.page_size, response.total_pages) == \
        (3, 1, 20, 1)


@pytest.mark.parametrize("sort_by, order, expected", [
    (pb.SortBy.PRICE, pb.SortOrder.DESC, ["BTC", "ETH", "SHIB"]),
    (pb.SortBy.PRICE, pb.SortOrder.ASC, ["SHIB", "ETH", "BTC"]),
    (pb.SortBy.MARKET_CAP, pb.SortOrder.ASC, ["SHIB", "ETH", "BTC"]),
    (pb.SortBy.VOLUME_24H, pb.SortOrder.DESC, ["BTC", "ETH", "SHIB"]),
    (pb.SortBy.CHANGE_24H, pb.SortOrder.DESC, ["BTC", "SHIB", "ETH"]),
    (pb.SortBy.NAME, pb.SortOrder.ASC, ["BTC", "ETH", "SHIB"]),
    (pb.SortBy.SYMBOL, pb.SortOrder.DESC, ["SHIB", "ETH", "BTC"]),
    (pb.SortBy.RANK, pb.SortOrder.DESC, ["SHIB", "ETH", "BTC"]),
])
async def test_list_coins_sorts_exactly(stub, three_coins, sort_by, order, expected):
    response = await stub.list_coins(pb.ListCoinsRequest(sort_by=sort_by, sort_order=order))
    assert [c.symbol for c in response.coins] == expected


async def test_list_coins_sorts_decimals_numerically_not_as_text(stub, db):
    # As text "9" > "10" and "0.5" > "0.00000001E+3": the sort must compare numbers.
    for symbol, price in [("A", "9"), ("B", "10"), ("C", "0.5"), ("D", "100.000000000000000001"),
                          ("E", "100")]:
        await make_coin(symbol, current_price_usd=Decimal(price))
    response = await stub.list_coins(pb.ListCoinsRequest(sort_by=pb.SortBy.PRICE))
    assert [c.symbol for c in response.coins] == ["C", "A", "B", "E", "D"]


async def test_list_coins_breaks_ties_by_id_in_both_orders(stub, db):
    ids = [(await make_coin(s, current_price_usd=Decimal("5"))).id for s in ("X", "Y", "Z")]
    for order in (pb.SortOrder.ASC, pb.SortOrder.DESC):
        response = await stub.list_coins(pb.ListCoinsRequest(sort_by=pb.SortBy.PRICE,
                                                             sort_order=order))
        assert [c.id for c in response.coins] == ids


async def test_list_coins_puts_unranked_coins_after_ranked(stub, db):
    await make_coin("NEW", rank=0)
    await make_coin("OLD", rank=7)
    response = await stub.list_coins(pb.ListCoinsRequest())
    assert [c.symbol for c in response.coins] == ["OLD", "NEW"]


async def test_list_coins_pages_and_reports_the_page_used(stub, db):
    for i in range(1, 26):
        await make_coin(f"C{i:02d}", rank=i)
    second = await stub.list_coins(pb.ListCoinsRequest(page=2, page_size=10))
    assert [c.rank for c in second.coins] == list(range(11, 21))
    assert (second.total_count, second.page, second.page_size, second.total_pages) == \
        (25, 2, 10, 3)
    past_end = await stub.list_coins(pb.ListCoinsRequest(page=9, page_size=10))
    assert past_end.coins == [] and past_end.total_count == 25 and past_end.total_pages == 3
    capped = await stub.list_coins(pb.ListCoinsRequest(page_size=1000))
    assert capped.page_size == 100 and len(capped.coins) == 25


@pytest.mark.parametrize("request_", [pb.ListCoinsRequest(page=-1),
                                      pb.ListCoinsRequest(page_size=-5)])
async def test_list_coins_rejects_negative_paging(stub, db, request_):
    message = await expect_error(stub.list_coins(request_), Status.INVALID_ARGUMENT)
    assert "page" in message


async def test_list_coins_filters_active_and_tradeable(stub, db):
    await make_coin("ON", rank=1)
    await make_coin("OFF", rank=2, is_active=False)
    await make_coin("LOCKED", rank=3, is_tradeable=False)
    active = await stub.list_coins(pb.ListCoinsRequest(active_only=True))
    assert [c.symbol for c in active.coins] == ["ON", "LOCKED"]
    tradeable = await stub.list_coins(pb.ListCoinsRequest(tradeable_only=True))
    assert [c.symbol for c in tradeable.coins] == ["ON", "OFF"]
    both = await stub.list_coins(pb.ListCoinsRequest(active_only=True, tradeable_only=True))
    assert [c.symbol for c in both.coins] == ["ON"]


async def test_search_ranks_exact_symbol_then_prefix_then_the_rest(stub, db):
    await make_coin("WBTC", name="Wrapped Bitcoin", slug="wrapped-bitcoin", rank=10)
    await make_coin("BTCB", name="Bitcoin BEP2", slug="bitcoin-bep2", rank=30)
    await make_coin("BCH", name="Bitcoin Cash", slug="bitcoin-cash", rank=20)
    await make_coin("BTC", name="Bitcoin", slug="bitcoin", rank=1)
    await make_coin("XBT", name="Old Bitcoin", slug="old-bitcoin", rank=5, is_active=False)
    response = await stub.search_coins(pb.SearchCoinsRequest(query="  btc "))
    assert [c.symbol for c in response.coins] == ["BTC", "BTCB", "WBTC"]
    by_name = await stub.search_coins(pb.SearchCoinsRequest(query="BITCOIN"))
    assert [c.symbol for c in by_name.coins] == ["BTC", "BCH", "BTCB", "WBTC"]


async def test_search_treats_percent_and_underscore_literally(stub, db):
    await make_coin("AB", name="A_B token", slug="a-b")
    await make_coin("AXB", name="AxB token", slug="axb")
    await make_coin("PCT", name="100% coin", slug="pct")
    underscore = await stub.search_coins(pb.SearchCoinsRequest(query="a_b"))
    assert [c.symbol for c in underscore.coins] == ["AB"]
    percent = await stub.search_coins(pb.SearchCoinsRequest(query="%"))
    assert [c.symbol for c in percent.coins] == ["PCT"]


async def test_search_limits(stub, db):
    for i in range(60):
        await make_coin(f"TK{i:02d}", name=f"Token {i}", rank=i + 1)
    default = await stub.search_coins(pb.SearchCoinsRequest(query="token"))
    assert len(default.coins) == 10 and default.total_count == 60
    capped = await stub.search_coins(pb.SearchCoinsRequest(query="token", limit=500))
    assert len(capped.coins) == 50 and capped.page_size == 50


@pytest.mark.parametrize("query", ["", "   ", "x" * 65])
async def test_search_rejects_empty_or_long_queries(stub, db, query):
    message = await expect_error(stub.search_coins(pb.SearchCoinsRequest(query=query)),
                                 Status.INVALID_ARGUMENT)
    assert "query" in message


async def test_top_coins_by_market_cap_among_active(stub, three_coins):
    await make_coin("DEAD", market_cap_usd=Decimal("9E15"), is_active=False)
    response = await stub.get_top_coins(pb.GetTopCoinsRequest(limit=2))
    assert [c.symbol for c in response.coins] == ["BTC", "ETH"]
    assert response.page_size == 2 and response.total_count == 3
    default = await stub.get_top_coins(pb.GetTopCoinsRequest())
    assert [c.symbol for c in default.coins] == ["BTC", "ETH", "SHIB"]
    capped = await stub.get_top_coins(pb.GetTopCoinsRequest(limit=5000))
    assert capped.page_size == 100
    await expect_error(stub.get_top_coins(pb.GetTopCoinsRequest(limit=-1)),
                       Status.INVALID_ARGUMENT)


async def test_reads_see_a_write_made_after_the_previous_read(stub, three_coins):
    assert (await stub.get_coin(pb.GetCoinRequest(symbol="ETH"))).coin.current_price_usd == "3300"
    eth = three_coins[1]
    eth.current_price_usd = Decimal("3412.75")
    await eth.save()
    assert (await stub.get_coin(pb.GetCoinRequest(symbol="ETH"))).coin.current_price_usd \
        == "3412.75"
    await make_coin("NEW")
    assert (await stub.get_coin(pb.GetCoinRequest(symbol="NEW"))).success
